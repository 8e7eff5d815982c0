"""Prediction: label maps, overlays and semantic-flow pictures for images, folders and videos.

``Predictor`` loads weights (a checkpoint, a ``save_pretrained`` folder, an exported .onnx/.xml) and runs
whole / sliding / multi-scale + flip inference through one ``alignseg.deploy`` runner; ``predict_path``
runs it over an image, a folder or a video and writes the files ``alignseg predict`` promises (see
``outputs.py``).
"""

from ..evaluation.inference import InferenceSettings
from .inputs import IMAGE_SUFFIXES, VIDEO_SUFFIXES, find_images, input_kind, read_video_frames
from .outputs import (
    CITYSCAPES_RESULTS_FOLDER,
    OutputOptions,
    PredictSummary,
    cityscapes_result_name,
    predict_path,
    to_cityscapes_label_ids,
    write_prediction,
)
from .predictor import DATASET_TABLES, Prediction, Predictor, resolve_classes

__all__ = [
    "CITYSCAPES_RESULTS_FOLDER",
    "DATASET_TABLES",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "InferenceSettings",
    "OutputOptions",
    "PredictSummary",
    "Prediction",
    "Predictor",
    "cityscapes_result_name",
    "find_images",
    "input_kind",
    "predict_path",
    "read_video_frames",
    "resolve_classes",
    "to_cityscapes_label_ids",
    "write_prediction",
]
