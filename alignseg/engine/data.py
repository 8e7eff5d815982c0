"""Datasets and loaders for training and evaluation, built from a ``DataConfig`` (plain PyTorch).

Training batches are a pure function of ``(seed, epoch, position in the epoch)``: the epoch plan comes
from ``ClassUniformSampler`` (with ``class_uniform_pct = 0`` it is a seeded shuffle of all images), and
every sample's augmentation is seeded from its position. So a run resumed in the middle of an epoch
(``ResumableSampler.resume``) sees exactly the batches an uninterrupted run would have seen, whatever
the number of loader workers.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from ..data import ClassUniformSampler, SegmentationDataset, build_dataset, eval_transforms, train_transforms
from ..data.datasets import DATASETS
from ..data.transforms import Centroid, SegmentationTransform, Transform
from .config import DataConfig, EvalConfig

__all__ = [
    "ReseedingTransform",
    "ResumableSampler",
    "SampleSeeded",
    "ShardSampler",
    "build_eval_transform",
    "build_split",
    "build_train_loader",
    "build_train_plan",
    "build_train_sampler",
    "build_train_transform",
    "build_val_loader",
    "build_val_split",
    "sample_seed",
]


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """The augmentation seed of the sample at ``position`` of ``epoch`` (independent of workers/ranks)."""
    return int(np.random.SeedSequence([seed, epoch, position]).generate_state(1)[0])


class ReseedingTransform:
    """A training transform whose random draws are set per sample through ``seed``.

    ``SegmentationTransform`` reseeds itself from the loader worker's seed on its first call in a
    worker; that call is made here first (its result is dropped), so the per-sample seed set
    afterwards always wins.
    """

    def __init__(self, inner: SegmentationTransform):
        self.inner = inner
        self.seed: int | None = None
        self._worker: tuple[int, int] | None = None

    def __call__(
        self, image: np.ndarray, label: np.ndarray, centroid: Centroid | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        worker = get_worker_info()
        if worker is not None and (worker.id, worker.seed) != self._worker:
            self._worker = (worker.id, worker.seed)
            self.inner(image, label, centroid)
        if self.seed is not None:
            self.inner.pipeline.set_random_seed(self.seed)
        return self.inner(image, label, centroid)


class SampleSeeded(Dataset):
    """Wraps a training dataset whose transform is a ``ReseedingTransform``: items are
    ``(index, centroid, seed)`` from ``ResumableSampler``."""

    def __init__(self, dataset: SegmentationDataset):
        if not isinstance(dataset.transform, ReseedingTransform):
            raise TypeError("SampleSeeded needs a dataset whose transform is a ReseedingTransform")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, Centroid | None, int]) -> dict[str, Any]:
        index, centroid, seed = item
        self.dataset.transform.seed = seed
        return self.dataset[(index, centroid)]


class ResumableSampler(Sampler):
    """This rank's share of each epoch of a ``ClassUniformSampler`` plan, as ``(index, centroid, seed)``.

    The plan of epoch ``e`` (a pure function of the sampler's seed and ``e``) is padded by wrapping around
    to a multiple of ``num_replicas``; rank ``r`` plays positions ``r, r + W, r + 2W, ...``. After
    ``resume(epoch, consumed)`` the next iteration starts at global position ``consumed`` of that epoch
    (``consumed`` = samples already trained on by all ranks together). ``len()`` is always the full
    per-rank epoch so that progress counters keep their meaning during a resumed epoch. ``batch_size`` is
    the loader's (which drops the last partial batch): an epoch without a full batch left is finished.

    The sampler counts epochs itself (each ``iter()`` plays one epoch) and has no ``set_epoch``: after a
    restart from an end-of-epoch checkpoint Lightning passes an epoch number one ahead of the epoch it
    trains, which would silently change the data order of a resumed run.
    """

    def __init__(
        self, plan: ClassUniformSampler, *, seed: int, num_replicas: int = 1, rank: int = 0, batch_size: int = 1
    ):
        if plan.num_replicas != 1:
            raise ValueError("ResumableSampler shards the plan itself: give it a ClassUniformSampler with "
                             "num_replicas=1")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in 0..{num_replicas - 1}")
        self.plan, self.seed = plan, seed
        self.num_replicas, self.rank, self.batch_size = num_replicas, rank, batch_size
        self.epoch, self.consumed = 0, 0

    def __len__(self) -> int:
        return math.ceil(self.plan.epoch_length / self.num_replicas)

    def resume(self, epoch: int, consumed: int) -> None:
        """Continue ``epoch`` after its first ``consumed`` samples (all ranks together)."""
        if consumed < 0 or epoch < 0:
            raise ValueError(f"cannot resume at epoch {epoch}, sample {consumed}")
        batches = len(self) // self.batch_size
        if consumed >= batches * self.batch_size * self.num_replicas:  # the epoch was finished: start the next
            epoch, consumed = epoch + 1, 0
        self.epoch, self.consumed = epoch, consumed

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed}

    def __iter__(self) -> Iterator[tuple[int, Centroid | None, int]]:
        self.plan.set_epoch(self.epoch)
        samples = list(iter(self.plan))
        count = len(samples)
        remaining = max(len(self) * self.num_replicas - self.consumed, 0)
        positions = range(self.consumed + self.rank, self.consumed + remaining, self.num_replicas)
        epoch = self.epoch
        out = [(*samples[p % count], sample_seed(self.seed, epoch, p)) for p in positions]
        self.epoch, self.consumed = epoch + 1, 0
        return iter(out)


class ShardSampler(Sampler):
    """Indices ``rank, rank + W, ...`` without padding, so that no sample is evaluated twice."""

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0):
        self.length, self.num_replicas, self.rank = length, num_replicas, rank

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.num_replicas))


def accepts(dataset: str, name: str) -> bool:
    """Whether the registered dataset ``dataset`` takes the constructor argument ``name`` (e.g. ``split``)."""
    cls = DATASETS.get(dataset.lower())
    return cls is not None and name in inspect.signature(cls).parameters


def build_split(config: DataConfig, split: str, transform: Any = None) -> SegmentationDataset:
    """The ``train`` or ``val`` dataset of ``config`` (``transform=None``: evaluation transform)."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    kwargs: dict[str, Any] = {}
    if config.root is not None:
        if not accepts(config.dataset, "root"):
            raise ValueError(f"data.root is set but dataset {config.dataset!r} takes no root; remove it")
        kwargs["root"] = config.root
    if accepts(config.dataset, "split"):
        kwargs["split"] = config.train_split if split == "train" else config.val_split
    kwargs.update(config.kwargs)
    kwargs.update(config.train_kwargs if split == "train" else config.val_kwargs)
    if transform is not None:
        kwargs["transform"] = transform
    return build_dataset(config.dataset, **kwargs)


def build_val_split(data: DataConfig, evaluation: EvalConfig) -> SegmentationDataset:
    """The validation dataset with the evaluation protocol's pre-processing (``eval.resize`` ...): what training
    validates on and ``alignseg eval`` scores, built the same way everywhere."""
    return build_split(data, "val", build_eval_transform(evaluation, data))


def build_eval_transform(config: EvalConfig, data: DataConfig) -> Transform:
    """The validation images' pre-processing of the config's evaluation protocol (``eval.resize`` ...)."""
    return eval_transforms(
        resize=config.resize,
        size=config.resize_size,
        center_crop=config.center_crop,
        resize_label=config.score_at == "resized",
        interpolation=data.interpolation,
    )


def build_train_transform(config: DataConfig, seed: int = 0) -> ReseedingTransform:
    crop = config.crop_size if isinstance(config.crop_size, int) else tuple(config.crop_size)
    inner = train_transforms(
        crop,
        tuple(config.scale_range),
        scale_choices=config.scale_choices,
        hflip_p=config.hflip,
        color_jitter=config.color_jitter or None,
        blur_sigma=tuple(config.blur_sigma) if config.blur else None,
        interpolation=config.interpolation,
        pad_value=config.pad_value,
        pad_position=config.pad_position,
        seed=seed,
    )
    return ReseedingTransform(inner)


def build_train_plan(dataset: SegmentationDataset, config: DataConfig, *, seed: int) -> ClassUniformSampler:
    """The epoch plans of ``dataset`` (class-uniform when ``class_uniform_pct`` > 0, else shuffles)."""
    return ClassUniformSampler(
        dataset,
        class_uniform_pct=config.class_uniform_pct,
        tile_size=config.class_uniform_tile,
        cache_dir=config.cache_dir,
        seed=seed,
        workers=max(1, config.workers),
        boost_classes=config.coarse_boost_classes,
    )


def build_train_sampler(
    dataset: SegmentationDataset,
    config: DataConfig,
    *,
    seed: int,
    num_replicas: int = 1,
    rank: int = 0,
    plan: ClassUniformSampler | None = None,
) -> ResumableSampler:
    """This rank's resumable share of the training plan (built from ``config`` unless ``plan`` is given)."""
    plan = plan if plan is not None else build_train_plan(dataset, config, seed=seed)
    return ResumableSampler(plan, seed=seed, num_replicas=num_replicas, rank=rank, batch_size=config.batch_size)


def build_train_loader(
    dataset: SegmentationDataset, sampler: ResumableSampler, config: DataConfig, *, seed: int, pin_memory: bool = False
) -> DataLoader:
    """Batches of ``config.batch_size`` (last partial batch dropped) from ``sampler``'s share of each epoch."""
    return DataLoader(
        SampleSeeded(dataset),
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        drop_last=True,
        pin_memory=pin_memory,
        persistent_workers=config.workers > 0,
        # Its own generator, so creating an iterator never draws from the global RNG (resume equality).
        generator=torch.Generator().manual_seed(seed),
    )


def build_val_loader(
    dataset: SegmentationDataset, workers: int, *, num_replicas: int = 1, rank: int = 0, pin_memory: bool = False
) -> DataLoader:
    """Full-size images one at a time; with several ranks each evaluates a disjoint shard."""
    return DataLoader(
        dataset,
        batch_size=1,
        sampler=ShardSampler(len(dataset), num_replicas, rank),
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
