"""Class-uniform sampling (spec sfnet.md 4.3): part of every epoch is crops centred on rare-class pixels.

Offline, each label map is cut into non-overlapping tiles and the centre of mass of every class present
in a tile is stored (full-image pixel coordinates). Each epoch of N samples holds, per class,
floor(N·pct/C) crops around that class's centroids plus N − C·floor(N·pct/C) random whole images; a class
without centroids is skipped, which makes the epoch shorter, as in the released code.

Coarse boost (the released Cityscapes recipe, spec datasets.md 3): a dataset may hold extra samples after
its ``primary_length`` ones (Cityscapes ``coarse=True``). Their centroids join the pools of the
``boost_classes`` only; N, the per-class counts and the random part count the primary samples alone.

Protocol with the dataset: the sampler yields ``(index, (x, y))`` for a centroid sample and
``(index, None)`` for a random one; ``SegmentationDataset.__getitem__`` accepts both and hands the
centroid to the transform, whose random crop then contains that pixel.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from torch.utils.data import Sampler

from alignseg.data.datasets.base import SegmentationDataset
from alignseg.data.transforms import Centroid
from alignseg.fileio import atomic_write

_CACHE_VERSION = 1


class PlannedSample(NamedTuple):
    """One entry of an epoch plan: image index, centroid to crop around (None: random crop), its class."""

    index: int
    centroid: Centroid | None
    class_id: int | None


def default_cache_dir() -> Path:
    """``$ALIGNSEG_CACHE``, else ``$XDG_CACHE_HOME/alignseg``, else ``~/.cache/alignseg``."""
    if "ALIGNSEG_CACHE" in os.environ:
        return Path(os.environ["ALIGNSEG_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alignseg"


def tile_centroids(label: np.ndarray, tile_size: int, num_classes: int) -> list[tuple[int, float, float]]:
    """``(class, x, y)`` centre of mass of every class 0..num_classes-1 present in each tile of ``label``.

    Tiles are ``tile_size`` squares from the top-left corner (floor division, pixels beyond the last full
    tile are not used); an image smaller than a tile along an axis is one tile along that axis.
    """
    height, width = label.shape
    tile_h, tile_w = min(tile_size, height), min(tile_size, width)
    xs = np.tile(np.arange(tile_w, dtype=np.float64), tile_h)  # pixel coordinates of a flattened tile
    ys = np.repeat(np.arange(tile_h, dtype=np.float64), tile_w)
    found = []
    for y0 in range(0, (height // tile_h) * tile_h, tile_h):
        for x0 in range(0, (width // tile_w) * tile_w, tile_w):
            tile = label[y0 : y0 + tile_h, x0 : x0 + tile_w].ravel()
            counts = np.bincount(tile, minlength=256)[:num_classes]
            sum_x = np.bincount(tile, weights=xs, minlength=256)[:num_classes]
            sum_y = np.bincount(tile, weights=ys, minlength=256)[:num_classes]
            for c in np.flatnonzero(counts):
                found.append((int(c), x0 + sum_x[c] / counts[c], y0 + sum_y[c] / counts[c]))
    return found


class CentroidIndex:
    """Every (image, class, centroid) of a dataset, cached on disk under a key of its labels and settings."""

    def __init__(self, image: np.ndarray, class_id: np.ndarray, xy: np.ndarray, num_classes: int):
        self.image, self.class_id, self.xy = image, class_id, xy
        self.rows_per_class = [np.flatnonzero(class_id == c) for c in range(num_classes)]
        self.from_cache = False

    @classmethod
    def build(cls, dataset: SegmentationDataset, tile_size: int, workers: int = 4) -> CentroidIndex:
        """Read every label of ``dataset`` (threads overlap PNG decoding) and collect its tile centroids."""

        def one(index: int) -> list[tuple[int, float, float]]:
            return tile_centroids(dataset.read_label(index), tile_size, dataset.num_classes)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            per_image = list(pool.map(one, range(len(dataset))))
        rows = [(i, c, x, y) for i, found in enumerate(per_image) for c, x, y in found]
        table = np.array(rows, dtype=np.float64).reshape(-1, 4)
        return cls(
            table[:, 0].astype(np.int64),
            table[:, 1].astype(np.int64),
            table[:, 2:4].copy(),
            dataset.num_classes,
        )

    @classmethod
    def load_or_build(
        cls,
        dataset: SegmentationDataset,
        tile_size: int,
        cache_dir: str | Path | None = None,
        workers: int = 4,
    ) -> CentroidIndex:
        """The cached index when its key matches the dataset's labels now, else a fresh one (then cached)."""
        settings = f"v{_CACHE_VERSION} tile={tile_size} classes={dataset.num_classes}"
        key = hashlib.sha256(f"{settings} {dataset.fingerprint()}".encode()).hexdigest()
        path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"centroids-{key[:32]}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    if str(stored["key"]) == key:
                        index = cls(stored["image"], stored["class_id"], stored["xy"], dataset.num_classes)
                        index.from_cache = True
                        return index
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
                warnings.warn(f"rebuilding the unreadable centroid cache {path}: {error}", stacklevel=2)
        index = cls.build(dataset, tile_size, workers)
        index.save(path, key)
        return index

    def save(self, path: Path, key: str) -> None:
        """Write atomically (temporary file + rename); a cache that cannot be written is only a warning."""
        arrays = {"key": np.array(key), "image": self.image, "class_id": self.class_id, "xy": self.xy}
        try:
            atomic_write(path, lambda handle: np.savez(handle, **arrays))
        except OSError as error:
            warnings.warn(f"could not write the centroid cache {path}: {error}", stacklevel=2)


class ClassUniformSampler(Sampler):
    """Yields ``(index, centroid or None)`` for every sample of an epoch; see the module docstring.

    ``seed`` and the epoch fully determine an epoch, so ``state_dict()`` is just both and a resumed run
    continues the same sequence. Each ``__iter__`` plays the current epoch and advances it; ``set_epoch``
    (called by Lightning and DDP loops) overrides it. With ``num_replicas`` > 1 every rank plays its share
    of the same plan (padded by wrapping around, as ``DistributedSampler`` does).
    """

    def __init__(
        self,
        dataset: SegmentationDataset,
        *,
        class_uniform_pct: float = 0.5,
        tile_size: int = 1024,
        cache_dir: str | Path | None = None,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        workers: int = 4,
        boost_classes: Sequence[int] = (),
    ):
        if not 0.0 <= class_uniform_pct <= 1.0:
            raise ValueError(f"class_uniform_pct must be in [0, 1], got {class_uniform_pct}")
        if tile_size < 1:
            raise ValueError(f"tile_size must be positive, got {tile_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in 0..{num_replicas - 1}")
        self.dataset = dataset
        self.class_uniform_pct, self.tile_size = class_uniform_pct, tile_size
        self.seed, self.epoch = seed, 0
        self.num_replicas, self.rank = num_replicas, rank
        self.num_classes = dataset.num_classes
        self.primary = dataset.primary_length
        self.boost_classes = tuple(int(c) for c in boost_classes)
        extra = len(dataset) - self.primary
        if any(not 0 <= c < self.num_classes for c in self.boost_classes):
            raise ValueError(f"boost classes {list(self.boost_classes)} must be class ids 0..{self.num_classes - 1}")
        if extra and not self.boost_classes:
            raise ValueError(f"the dataset holds {extra} extra (coarse) samples that only boost classes draw; give "
                             "the boost classes (data.coarse_boost_classes) or leave the extra samples out")
        if self.boost_classes and not extra:
            raise ValueError("boost classes were given but the dataset has no extra (coarse) samples to draw them "
                             "from (Cityscapes: coarse=True in data.train_kwargs)")
        self.per_class = int(self.primary * class_uniform_pct / self.num_classes)
        self.pools: list[np.ndarray] = []
        if self.per_class > 0:
            self.index: CentroidIndex | None = CentroidIndex.load_or_build(dataset, tile_size, cache_dir, workers)
            for c, rows in enumerate(self.index.rows_per_class):
                self.pools.append(rows if c in self.boost_classes else rows[self.index.image[rows] < self.primary])
            self.sampled_classes = [c for c, rows in enumerate(self.pools) if rows.size]
        else:
            self.index, self.sampled_classes = None, []
        self.epoch_length = (
            self.primary - self.num_classes * self.per_class + len(self.sampled_classes) * self.per_class
        )

    def plan(self, epoch: int) -> list[PlannedSample]:
        """The shuffled samples of ``epoch`` for all ranks together (a pure function of seed and epoch)."""
        rng = np.random.default_rng([self.seed, epoch])
        samples: list[PlannedSample] = []
        for c in self.sampled_classes:
            rows = self.pools[c]
            picks = rows[rng.permutation(rows.size)[np.arange(self.per_class) % rows.size]]
            samples += [
                PlannedSample(int(self.index.image[r]), (float(self.index.xy[r, 0]), float(self.index.xy[r, 1])), c)
                for r in picks
            ]
        random_count = self.primary - self.num_classes * self.per_class
        samples += [PlannedSample(int(i), None, None) for i in rng.permutation(self.primary)[:random_count]]
        return [samples[i] for i in rng.permutation(len(samples))]

    def __iter__(self) -> Iterator[tuple[int, Centroid | None]]:
        samples = self.plan(self.epoch)
        self.epoch += 1
        total = len(self) * self.num_replicas
        samples = (samples * (total // max(len(samples), 1) + 1))[:total]
        return iter([(s.index, s.centroid) for s in samples[self.rank : total : self.num_replicas]])

    def __len__(self) -> int:
        return -(-self.epoch_length // self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])
