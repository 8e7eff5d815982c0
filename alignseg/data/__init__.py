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
    COCO_STUFF_PNG_TO_TRAIN,
    IGNORE_INDEX,
    MAPILLARY_TO_CITYSCAPES,
    LabelMap,
    default_palette,
)
from alignseg.data.normalize import IMAGENET_MEAN, IMAGENET_STD

_LAZY = {
    "alignseg.data.datasets": ("DATASETS", "CamVid", "Cityscapes", "CocoStuff10k", "ImageFolderDataset",
                               "ProceduralShapes", "SampleRef", "SegmentationDataset", "build_dataset"),
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
    "COCO_STUFF_PNG_TO_TRAIN",
    "DATASETS",
    "IGNORE_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAPILLARY_TO_CITYSCAPES",
    "CamVid",
    "CentroidCrop",
    "CentroidIndex",
    "Cityscapes",
    "ClassUniformSampler",
    "CocoStuff10k",
    "DataError",
    "ImageFolderDataset",
    "LabelMap",
    "PlannedSample",
    "ProceduralShapes",
    "SampleRef",
    "SegmentationDataset",
    "SegmentationTransform",
    "Transform",
    "build_dataset",
    "default_cache_dir",
    "default_palette",
    "eval_transforms",
    "read_image",
    "read_label",
    "tile_centroids",
    "train_transforms",
]
