"""UDS, the unified driving set of SFNet IJCV (Table 7): BDD100K + Mapillary + IDD + Cityscapes as one set of
19 Cityscapes train ids, each source read through its own loader and label table (spec datasets.md 7)."""

from __future__ import annotations

import bisect
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from alignseg.data.datasets.base import SegmentationDataset, check_choice
from alignseg.data.datasets.bdd100k import BDD100K
from alignseg.data.datasets.cityscapes import Cityscapes
from alignseg.data.datasets.idd import IDD
from alignseg.data.datasets.mapillary import Mapillary
from alignseg.data.errors import DataError
from alignseg.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from alignseg.data.transforms import Transform

UDS_SOURCES: dict[str, type[SegmentationDataset]] = {
    "bdd100k": BDD100K,
    "mapillary": Mapillary,
    "idd": IDD,
    "cityscapes": Cityscapes,
}
"""The sources in the order of the released ``datasets/merged_auto_dataset.py``."""


class UnifiedDriving(SegmentationDataset):
    """The concatenation of the four sources' ``split`` (train or val); each source is given as the keyword
    arguments of its own loader (``root`` and e.g. ``label_type``; Mapillary is always read as 19 classes).
    A source set to None is left out. Items carry ``source`` (the source's name) so that evaluation can
    report every source next to the merged number; the released val union is 4,481 images."""

    splits = ("train", "val")

    def __init__(
        self,
        bdd100k: dict[str, Any] | None = None,
        mapillary: dict[str, Any] | None = None,
        idd: dict[str, Any] | None = None,
        cityscapes: dict[str, Any] | None = None,
        split: str = "train",
        *,
        transform: Transform | None = None,
    ):
        check_choice("UDS", "split", split, self.splits)
        given = {"bdd100k": bdd100k, "mapillary": mapillary, "idd": idd, "cityscapes": cityscapes}
        self.parts: list[SegmentationDataset] = []
        names = []
        for name, cls in UDS_SOURCES.items():
            kwargs = given[name]
            if kwargs is None:
                continue
            if not isinstance(kwargs, dict) or "root" not in kwargs:
                raise DataError(f"UDS: source {name!r} must be a mapping with at least 'root' (its loader's "
                                f"arguments), got {kwargs!r}")
            if name == "mapillary":
                kwargs = {**kwargs, "classes": 19}
            try:
                part = cls(split=split, **kwargs)
            except TypeError as error:
                raise DataError(f"UDS: source {name!r}: {error}") from None
            if part.class_names != CITYSCAPES_CLASSES:
                raise DataError(f"UDS: source {name!r} does not give the 19 Cityscapes classes")
            self.parts.append(part)
            names.append(name)
        if not self.parts:
            raise DataError(f"UDS: no source given; set some of {', '.join(UDS_SOURCES)}")
        self.sources = tuple(names)
        self.split = split
        self._starts = list(np.cumsum([0] + [p.primary_length for p in self.parts[:-1]]).tolist())
        samples = [pair for part in self.parts for pair in part.samples[: part.primary_length]]
        super().__init__(samples, CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE, transform=transform)

    def _locate(self, index: int) -> tuple[SegmentationDataset, int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"UDS index {index} out of range 0..{len(self) - 1}")
        part = bisect.bisect_right(self._starts, index) - 1
        return self.parts[part], index - self._starts[part], part

    def sample_source(self, index: int) -> str:
        return self.sources[self._locate(index)[2]]

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        part, local, _ = self._locate(index)
        return part.load(local)

    def read_label(self, index: int) -> np.ndarray:
        part, local, _ = self._locate(index)
        return part.read_label(local)

    def read_raw_label(self, path: Path) -> np.ndarray:
        raise NotImplementedError("UDS reads labels through its sources (load / read_label)")

    def fingerprint(self) -> str:
        digest = hashlib.sha256(b"UDS")
        for name, part in zip(self.sources, self.parts, strict=True):
            digest.update(f"{name}:{part.fingerprint()}\n".encode())
        return digest.hexdigest()
