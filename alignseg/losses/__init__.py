"""Segmentation losses: pixel losses (``pixel``), class weights (``class_weights``), the criterion over a
model's named outputs (``criterion``; its module docstring describes the training-output contract) and CAR's
losses (``car``)."""

from .car import CARLoss, car_losses
from .class_weights import WEIGHTINGS, resolve_class_weights
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
    DiceLoss,
    FocalLoss,
    HardestFractionCrossEntropy,
    OhemCrossEntropy,
    PixelLoss,
    build_loss,
    resize_to_label,
)

__all__ = [
    "LOSSES",
    "LOSS_TERMS",
    "WEIGHTINGS",
    "CARLoss",
    "CrossEntropy",
    "DiceLoss",
    "FocalLoss",
    "HardestFractionCrossEntropy",
    "LossContext",
    "OhemCrossEntropy",
    "PixelLoss",
    "SegmentationCriterion",
    "build_criterion",
    "build_loss",
    "car_losses",
    "loss_input",
    "register_loss_term",
    "resize_to_label",
    "resolve_class_weights",
]
