"""The dataset contract shared by every loader: (image, label) pairs in, normalised tensors out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from alignseg.data.errors import DataError
from alignseg.data.io import read_image, read_label
from alignseg.data.labels import IGNORE_INDEX, Color, LabelMap, default_palette
from alignseg.data.transforms import Centroid, Transform, eval_transforms

SampleRef = int | tuple[int, Centroid | None]
"""What ``__getitem__`` accepts: an index, or ``(index, centroid)`` from the class-uniform sampler."""

Unpaired = list[tuple[str, Path, str]]
"""``("image without label" | "label without image", path, what was expected)`` records of ``collect_unpaired``."""
_UNPAIRED: ContextVar[Unpaired | None] = ContextVar("alignseg_unpaired", default=None)


@contextmanager
def collect_unpaired() -> Iterator[Unpaired]:
    """Inside this block ``find_pairs`` records every unpaired file in the yielded list and keeps the pairs,
    instead of raising on the first one (``alignseg data check`` reports them all)."""
    found: Unpaired = []
    token = _UNPAIRED.set(found)
    try:
        yield found
    finally:
        _UNPAIRED.reset(token)


class SegmentationDataset(Dataset):
    """Image/label file pairs with their class names, palette and an optional label lookup table.

    An item is ``{"image": float32 3×H×W (normalised), "label": int64 H×W (255 = ignore), "path": str}``.
    Labels are checked on every load: sizes must match the image and, after the lookup table, values
    must be class indices or 255; otherwise one DataError names the file.
    """

    ignore_index: int = IGNORE_INDEX
    splits: tuple[str, ...] = ()
    """The dataset's disjoint splits with labels (``alignseg data check`` visits them all by default)."""
    prepared_label_type: str | None = None
    """The ``label_type`` that reads the train-id PNGs ``alignseg data prepare`` writes (None: not offered)."""
    sources: tuple[str, ...] = ()
    """Names of the datasets a merged set draws from (UDS); items then carry their ``source`` name."""

    def __init__(
        self,
        samples: Sequence[tuple[str | Path, str | Path]],
        class_names: Sequence[str],
        *,
        palette: Sequence[Color] | None = None,
        label_map: LabelMap | None = None,
        transform: Transform | None = None,
    ):
        self.samples = [(Path(image), Path(label)) for image, label in samples]
        self.class_names = tuple(class_names)
        self.palette = tuple(tuple(c) for c in palette) if palette is not None else default_palette(self.num_classes)
        if not 1 <= self.num_classes <= IGNORE_INDEX:
            raise DataError(f"{type(self).__name__}: need 1..255 class names, got {self.num_classes}")
        if len(self.palette) != self.num_classes:
            raise DataError(
                f"{type(self).__name__}: {len(self.palette)} palette colours for {self.num_classes} classes"
            )
        self.label_map = label_map
        self.transform: Transform = transform if transform is not None else eval_transforms()
        if len(self) == 0:
            raise DataError(f"{type(self).__name__}: no image/label pairs were given")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def primary_length(self) -> int:
        """Samples ``0..primary_length-1`` make up an epoch; later ones (Cityscapes coarse) are drawn only by
        the class-uniform sampler's boost classes."""
        return len(self)

    def __getitem__(self, ref: SampleRef) -> dict[str, torch.Tensor | str]:
        index, centroid = (ref, None) if isinstance(ref, int | np.integer) else ref
        image, label = self.load(int(index))
        image, label = self.transform(image, label, centroid)
        item: dict[str, torch.Tensor | str] = {
            "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)),
            "label": torch.from_numpy(label.astype(np.int64)),
            "path": self.sample_name(int(index)),
        }
        if self.sources:
            item["source"] = self.sample_source(int(index))
        return item

    def sample_source(self, index: int) -> str:
        """The source dataset of sample ``index`` in a merged set (see ``sources``)."""
        raise NotImplementedError(f"{type(self).__name__} is not a merged dataset")

    def sample_name(self, index: int) -> str:
        """A name for the sample in outputs and messages (the image path)."""
        return str(self.samples[index][0])

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The untransformed RGB ``uint8`` image and checked ``uint8`` label (train ids, 255 = ignore)."""
        image_path, label_path = self.samples[index]
        image = read_image(image_path)
        raw = self.read_raw_label(label_path)
        if image.shape[:2] != raw.shape[:2]:
            raise DataError(
                f"image {image_path} is {image.shape[1]}x{image.shape[0]} (WxH) but its label {label_path} "
                f"is {raw.shape[1]}x{raw.shape[0]}; an image and its label must have the same size"
            )
        return image, self.prepare_label(raw, label_path)

    def prepared_label_path(self, label_path: Path) -> Path:
        """Where ``alignseg data prepare`` writes the train ids of ``label_path``: beside it, as
        ``*_labelTrainIds.png`` for ``*_labelIds.png`` (the Cityscapes convention), else
        ``<stem>_labelTrainIds.png``."""
        name = label_path.name
        if name.endswith("labelIds.png"):
            return label_path.with_name(name[: -len("labelIds.png")] + "labelTrainIds.png")
        return label_path.with_name(f"{label_path.stem}_labelTrainIds.png")

    def read_label(self, index: int) -> np.ndarray:
        """The checked ``uint8`` label of sample ``index`` without its image (used to index centroids)."""
        label_path = self.samples[index][1]
        return self.prepare_label(self.read_raw_label(label_path), label_path)

    def read_raw_label(self, path: Path) -> np.ndarray:
        """The stored values of a label file, before the lookup table (IDD overrides it for polygon JSON)."""
        return read_label(path)

    def prepare_label(self, raw: np.ndarray, source: str | Path) -> np.ndarray:
        """Apply the lookup table and check the values; ``source`` names the file in error messages."""
        if raw.dtype != np.uint8:
            low, high = int(raw.min()), int(raw.max())
            if low < 0 or high > 255:
                raise DataError(f"label {source} holds values {low}..{high}; expected 8-bit class indices (0..255)")
            raw = raw.astype(np.uint8)
        present = np.flatnonzero(np.bincount(raw.ravel(), minlength=256))
        mapped = present
        if self.label_map is not None:
            unknown = self.label_map.unknown(present)
            if unknown.size:
                raise DataError(
                    f"label {source} holds values {unknown.tolist()} that the {self.label_map.name} does not "
                    f"define (it accepts {_ranges(np.flatnonzero(self.label_map.accepted))})"
                )
            mapped = self.label_map.lut[present]
        bad = present[(mapped >= self.num_classes) & (mapped != IGNORE_INDEX)]
        if bad.size:
            mapping = f" (through the {self.label_map.name})" if self.label_map is not None else ""
            raise DataError(
                f"label {source} holds values {bad.tolist()}{mapping} outside the {self.num_classes} classes "
                f"0..{self.num_classes - 1} of {type(self).__name__} ({IGNORE_INDEX} = ignore)"
            )
        return self.label_map(raw) if self.label_map is not None else raw

    def fingerprint(self) -> str:
        """A hash of everything the labels depend on: label paths, sizes, mtimes and the lookup table."""
        digest = hashlib.sha256(type(self).__name__.encode())
        for _, label_path in self.samples:
            try:
                stat = label_path.stat()
            except OSError as error:
                raise DataError(f"cannot read label file {label_path}: {error}") from error
            digest.update(f"{label_path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        if self.label_map is not None:
            digest.update(self.label_map.lut.tobytes() + self.label_map.accepted.tobytes())
        return digest.hexdigest()


def _ranges(values: np.ndarray) -> str:
    """Write sorted integers compactly, e.g. ``0..10, 255``."""
    parts, start = [], None
    for i, value in enumerate(values.tolist()):
        if start is None:
            start = value
        if i + 1 == len(values) or values[i + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}..{value}")
            start = None
    return ", ".join(parts)


def find_pairs(
    image_dir: Path,
    label_dir: Path,
    *,
    image_suffixes: str | tuple[str, ...],
    label_suffix: str,
    what: str,
    missing_hint: str = "",
    label_exclude: tuple[str, ...] = (),
) -> list[tuple[Path, Path]]:
    """Pair every image under ``image_dir`` with the label of the same relative name under ``label_dir``.

    An image without a label, a label without an image, or no images at all is a DataError naming the
    file or folder; nothing is skipped silently except labels ending in one of ``label_exclude`` (other
    label types kept in the same folder, e.g. ``_labelTrainIds.png`` next to raw ``.png`` files).
    """
    for folder, kind in ((image_dir, "image"), (label_dir, "label")):
        if not folder.is_dir():
            raise DataError(f"{what}: {kind} folder {folder} does not exist")
    suffixes = (image_suffixes,) if isinstance(image_suffixes, str) else image_suffixes
    images = _by_key(image_dir, suffixes)
    if not images:
        raise DataError(f"{what}: no images ending in {' or '.join(suffixes)} found in {image_dir}")
    labels = _by_key(label_dir, (label_suffix,), label_exclude)
    missing = [key for key in images if key not in labels]
    orphans = [key for key in labels if key not in images]
    collected = _UNPAIRED.get()
    if collected is not None:
        collected += [("image without label", images[key], f"expected {label_dir / (key + label_suffix)}")
                      for key in missing]
        collected += [("label without image", labels[key], f"no image of that name in {image_dir}")
                      for key in orphans]
        return [(images[key], labels[key]) for key in sorted(images) if key in labels]
    if missing:
        more = f" ({len(missing) - 1} more images have no label)" if len(missing) > 1 else ""
        raise DataError(
            f"{what}: image {images[missing[0]]} has no label: expected "
            f"{label_dir / (missing[0] + label_suffix)}{more}{missing_hint}"
        )
    if orphans:
        more = f" ({len(orphans) - 1} more labels have no image)" if len(orphans) > 1 else ""
        raise DataError(f"{what}: label {labels[orphans[0]]} has no image in {image_dir}{more}")
    return [(images[key], labels[key]) for key in sorted(images)]


def _by_key(folder: Path, suffixes: tuple[str, ...], exclude: tuple[str, ...] = ()) -> dict[str, Path]:
    """Files under ``folder`` ending in one of ``suffixes`` (not in ``exclude``), keyed by their relative path
    without the suffix."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is None or path.name.endswith(exclude) or not path.is_file():
            continue
        key = path.relative_to(folder).as_posix()[: -len(suffix)]
        if key in found:
            raise DataError(f"{found[key]} and {path} have the same name; keep one of them")
        found[key] = path
    return found


def read_name_list(path: Path, what: str) -> list[str]:
    """Sample names of one split listed in ``path``, one per line (extensions, blank lines and surrounding
    spaces ignored); a missing or empty list is a DataError naming it."""
    if not path.is_file():
        raise DataError(f"{what}: image list {path} does not exist")
    names = [Path(line.strip()).stem for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DataError(f"{what}: image list {path} is empty")
    return names


def listed_pairs(
    names: Sequence[str],
    image_dir: Path,
    label_dir: Path,
    *,
    image_suffix: str,
    label_suffix: str,
    what: str,
    listed_in: Path,
) -> list[tuple[Path, Path]]:
    """``(image_dir/<name><image_suffix>, label_dir/<name><label_suffix>)`` for every listed name; a missing
    file is a DataError naming it and the list that names it."""
    pairs = []
    for name in names:
        image, label = image_dir / f"{name}{image_suffix}", label_dir / f"{name}{label_suffix}"
        for path, kind in ((image, "image"), (label, "label")):
            if not path.is_file():
                raise DataError(f"{what}: {kind} {path} listed in {listed_in} does not exist")
        pairs.append((image, label))
    return pairs


def check_choice(what: str, key: str, value: object, valid: Sequence[object]) -> None:
    """A DataError naming ``what``'s option ``key`` when ``value`` is not one of ``valid``."""
    if value not in valid:
        raise DataError(f"{what}: unknown {key} {value!r}; valid: {', '.join(str(v) for v in valid)}")
