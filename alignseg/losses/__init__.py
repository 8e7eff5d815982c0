"""Segmentation losses: pixel criteria (``pixel``) and the criterion over a model's named outputs
(``criterion``; its module docstring describes the training-output contract)."""

from .criterion import (
    LOSS_TERMS,
    LossContext,
    SegmentationCriterion,
    build_criterion,
    loss_input,
    register_loss_term,
)
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
    "LOSS_TERMS",
    "CrossEntropy",
    "HardestFractionCrossEntropy",
    "LossContext",
    "OhemCrossEntropy",
    "SegmentationCriterion",
    "build_criterion",
    "build_loss",
    "loss_input",
    "register_loss_term",
    "resize_to_label",
]
