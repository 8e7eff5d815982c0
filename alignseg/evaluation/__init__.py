"""Evaluation: confusion-matrix metrics (IoU, mIoU, accuracies) and the inference modes of the released
SFNet code (whole image, sliding window, multi-scale + flip)."""

from alignseg.evaluation.confusion import ConfusionMatrix, SegmentationMetrics
from alignseg.evaluation.inference import (
    InferenceSettings,
    multi_scale_inference,
    predict_logits,
    sliding_window_inference,
    tile_starts,
    whole_inference,
)

__all__ = [
    "ConfusionMatrix",
    "InferenceSettings",
    "SegmentationMetrics",
    "multi_scale_inference",
    "predict_logits",
    "sliding_window_inference",
    "tile_starts",
    "whole_inference",
]
