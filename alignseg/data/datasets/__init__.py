"""Segmentation datasets and ``build_dataset``, which picks one by name."""

from __future__ import annotations

import inspect
from typing import Any

from alignseg.data.datasets.ade20k import ADE20K
from alignseg.data.datasets.base import SampleRef, SegmentationDataset, find_pairs
from alignseg.data.datasets.bdd100k import BDD100K
from alignseg.data.datasets.camvid import CamVid
from alignseg.data.datasets.cityscapes import Cityscapes
from alignseg.data.datasets.cocostuff import CocoStuff10k, CocoStuff164k
from alignseg.data.datasets.folder import ImageFolderDataset
from alignseg.data.datasets.idd import IDD, rasterize_idd_polygons
from alignseg.data.datasets.mapillary import Mapillary
from alignseg.data.datasets.pascal_context import PascalContext
from alignseg.data.datasets.shapes import ProceduralShapes
from alignseg.data.datasets.uds import UnifiedDriving
from alignseg.data.errors import DataError

DATASETS: dict[str, type[SegmentationDataset]] = {
    "ade20k": ADE20K,
    "bdd100k": BDD100K,
    "camvid": CamVid,
    "cityscapes": Cityscapes,
    "coco_stuff164k": CocoStuff164k,
    "cocostuff10k": CocoStuff10k,
    "folder": ImageFolderDataset,
    "idd": IDD,
    "mapillary": Mapillary,
    "pascal_context": PascalContext,
    "shapes": ProceduralShapes,
    "uds": UnifiedDriving,
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
    "ADE20K",
    "BDD100K",
    "DATASETS",
    "IDD",
    "CamVid",
    "Cityscapes",
    "CocoStuff10k",
    "CocoStuff164k",
    "ImageFolderDataset",
    "Mapillary",
    "PascalContext",
    "ProceduralShapes",
    "SampleRef",
    "SegmentationDataset",
    "UnifiedDriving",
    "build_dataset",
    "find_pairs",
    "rasterize_idd_polygons",
]
