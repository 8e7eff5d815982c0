"""Datasets, label tables, transforms and class-uniform sampling: image/label files in, batches out.

Depends only on numpy, image I/O (Pillow, OpenCV), albumentations and torch; never on models or engine.
Image reading, label tables and the normalisation constants import with the base install (what prediction
needs); datasets, transforms and sampling (OpenCV, albumentations: extra ``alignseg[train]``) are imported
on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from alignseg.data.errors import DataError
from alignseg.data.io import read_image, read_label
from alignseg.data.labels import (
    ADE20K_CLASSES,
    ADE20K_PALETTE,
    ADE20K_TO_TRAIN,
    BDD100K_TO_TRAIN,
    CAMVID_CLASSES,
    CAMVID_PALETTE,
    CAMVID_SEGNET_TO_TRAIN,
    CITYSCAPES_CLASSES,
    CITYSCAPES_ID_TO_TRAINID,
    CITYSCAPES_LABELS,
    CITYSCAPES_PALETTE,
    CITYSCAPES_TRAINID_TO_ID,
    COCO_STUFF_CLASSES,
    COCO_STUFF_IDS,
    COCO_STUFF_MAT_TO_TRAIN,
    COCO_STUFF_PALETTE,
    COCO_STUFF_PNG_TO_TRAIN,
    IDD_ID_TO_TRAINID,
    IDD_LABELS,
    IGNORE_INDEX,
    MAPILLARY_CLASSES,
    MAPILLARY_LABELS,
    MAPILLARY_PALETTE,
    MAPILLARY_TO_CITYSCAPES,
    MAPILLARY_TO_TRAIN,
    PASCAL_CONTEXT_59_CLASSES,
    PASCAL_CONTEXT_59_TO_TRAIN,
    PASCAL_CONTEXT_60_CLASSES,
    PASCAL_CONTEXT_60_TO_TRAIN,
    RAW_LABEL_TABLES,
    LabelMap,
    default_palette,
)
from alignseg.data.normalize import IMAGENET_MEAN, IMAGENET_STD

_LAZY = {
    "alignseg.data.datasets": ("ADE20K", "BDD100K", "DATASETS", "IDD", "CamVid", "Cityscapes", "CocoStuff10k",
                               "CocoStuff164k", "ImageFolderDataset", "Mapillary", "PascalContext", "ProceduralShapes",
                               "SampleRef", "SegmentationDataset", "UnifiedDriving", "build_dataset",
                               "rasterize_idd_polygons"),
    "alignseg.data.transforms": ("CentroidCrop", "SegmentationTransform", "Transform", "eval_transforms",
                                 "train_transforms"),
    "alignseg.data.uniform_sampling": ("CentroidIndex", "ClassUniformSampler", "PlannedSample",
                                       "default_cache_dir", "tile_centroids"),
}
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ADE20K",
    "ADE20K_CLASSES",
    "ADE20K_PALETTE",
    "ADE20K_TO_TRAIN",
    "BDD100K",
    "BDD100K_TO_TRAIN",
    "CAMVID_CLASSES",
    "CAMVID_PALETTE",
    "CAMVID_SEGNET_TO_TRAIN",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_ID_TO_TRAINID",
    "CITYSCAPES_LABELS",
    "CITYSCAPES_PALETTE",
    "CITYSCAPES_TRAINID_TO_ID",
    "COCO_STUFF_CLASSES",
    "COCO_STUFF_IDS",
    "COCO_STUFF_MAT_TO_TRAIN",
    "COCO_STUFF_PALETTE",
    "COCO_STUFF_PNG_TO_TRAIN",
    "DATASETS",
    "IDD",
    "IDD_ID_TO_TRAINID",
    "IDD_LABELS",
    "IGNORE_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAPILLARY_CLASSES",
    "MAPILLARY_LABELS",
    "MAPILLARY_PALETTE",
    "MAPILLARY_TO_CITYSCAPES",
    "MAPILLARY_TO_TRAIN",
    "PASCAL_CONTEXT_59_CLASSES",
    "PASCAL_CONTEXT_59_TO_TRAIN",
    "PASCAL_CONTEXT_60_CLASSES",
    "PASCAL_CONTEXT_60_TO_TRAIN",
    "RAW_LABEL_TABLES",
    "CamVid",
    "CentroidCrop",
    "CentroidIndex",
    "Cityscapes",
    "ClassUniformSampler",
    "CocoStuff10k",
    "CocoStuff164k",
    "DataError",
    "ImageFolderDataset",
    "LabelMap",
    "Mapillary",
    "PascalContext",
    "PlannedSample",
    "ProceduralShapes",
    "SampleRef",
    "SegmentationDataset",
    "SegmentationTransform",
    "Transform",
    "UnifiedDriving",
    "build_dataset",
    "default_cache_dir",
    "default_palette",
    "eval_transforms",
    "rasterize_idd_polygons",
    "read_image",
    "read_label",
    "tile_centroids",
    "train_transforms",
]
