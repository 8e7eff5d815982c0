"""Segmentation datasets and ``build_dataset``, which picks one by name."""

from __future__ import annotations

import inspect
from typing import Any

from alignseg.data.datasets.base import SampleRef, SegmentationDataset, find_pairs
from alignseg.data.datasets.camvid import CamVid
from alignseg.data.datasets.cityscapes import Cityscapes
from alignseg.data.datasets.cocostuff import CocoStuff10k
from alignseg.data.datasets.folder import ImageFolderDataset
from alignseg.data.datasets.shapes import ProceduralShapes
from alignseg.data.errors import DataError

DATASETS: dict[str, type[SegmentationDataset]] = {
    "camvid": CamVid,
    "cityscapes": Cityscapes,
    "cocostuff10k": CocoStuff10k,
    "folder": ImageFolderDataset,
    "shapes": ProceduralShapes,
}


def build_dataset(name: str, **kwargs: Any) -> SegmentationDataset:
    """Create the dataset registered as ``name`` (case-insensitive); an unknown name lists the valid ones."""
    cls = DATASETS.get(name.lower())
    if cls is None:
        raise DataError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}")
    signature = inspect.signature(cls)
    try:
        signature.bind(**kwargs)
    except TypeError as error:
        accepted = ", ".join(
            p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in signature.parameters.values()
        )
        raise DataError(f"dataset {name!r}: {error}; it takes {accepted}") from None
    return cls(**kwargs)


__all__ = [
    "DATASETS",
    "CamVid",
    "Cityscapes",
    "CocoStuff10k",
    "ImageFolderDataset",
    "ProceduralShapes",
    "SampleRef",
    "SegmentationDataset",
    "build_dataset",
    "find_pairs",
]
