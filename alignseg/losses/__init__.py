"""Segmentation losses: pixel criteria (``pixel``) and deep supervision over auxiliary heads."""

from .deep_supervision import DeepSupervisionLoss
from .pixel import (
    LOSSES,
    CrossEntropy,
    HardestFractionCrossEntropy,
    OhemCrossEntropy,
    build_loss,
    resize_to_label,
)

__all__ = [
    "LOSSES",
    "CrossEntropy",
    "DeepSupervisionLoss",
    "HardestFractionCrossEntropy",
    "OhemCrossEntropy",
    "build_loss",
    "resize_to_label",
]
