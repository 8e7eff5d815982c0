"""Prediction: label maps, overlays and semantic-flow pictures for images, folders and videos.

``Predictor`` loads an alignseg checkpoint and runs whole / sliding / multi-scale + flip inference
through a backend (``backends.py``: a small object mapping a normalised ``N×3×H×W`` batch to logits);
``predict_path`` runs it over an image, a folder or a video and writes the files ``alignseg predict``
promises (see ``outputs.py``).
"""

from .backends import AVAILABLE_BACKENDS, Backend, TorchBackend, check_backend, create_backend
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
from .predictor import (
    DATASET_TABLES,
    CheckpointInfo,
    InferenceSettings,
    Prediction,
    Predictor,
    read_checkpoint_info,
    resolve_classes,
)

__all__ = [
    "AVAILABLE_BACKENDS",
    "CITYSCAPES_RESULTS_FOLDER",
    "DATASET_TABLES",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "Backend",
    "CheckpointInfo",
    "InferenceSettings",
    "OutputOptions",
    "PredictSummary",
    "Prediction",
    "Predictor",
    "TorchBackend",
    "check_backend",
    "cityscapes_result_name",
    "create_backend",
    "find_images",
    "input_kind",
    "predict_path",
    "read_checkpoint_info",
    "read_video_frames",
    "resolve_classes",
    "to_cityscapes_label_ids",
    "write_prediction",
]
