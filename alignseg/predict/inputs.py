"""What ``alignseg predict`` reads: one image, a folder of images (recursive), or a video file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from ..data import DataError

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "find_images",
    "input_kind",
    "read_video_frames",
    "require_cv2",
    "video_fps",
    "video_frame_count",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def input_kind(path: str | Path) -> Literal["image", "folder", "video"]:
    """Classify an input path by what it is and its suffix; anything else is an error naming it."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise DataError(f"input {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise DataError(
        f"input {path} is neither a folder, an image ({' '.join(IMAGE_SUFFIXES)}) "
        f"nor a video ({' '.join(VIDEO_SUFFIXES)})"
    )


def find_images(folder: str | Path) -> list[Path]:
    """Every image under ``folder`` (recursive, suffixes of ``IMAGE_SUFFIXES`` in any case), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist")
    images = sorted(
        path for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not path.name.startswith(".")
    )  # fmt: skip
    if not images:
        raise DataError(f"no images ({' '.join(IMAGE_SUFFIXES)}) found under {folder}")
    return images


def require_cv2():
    try:
        import cv2
    except ImportError as error:  # pragma: no cover - opencv is installed with alignseg[train]
        raise DataError("reading and writing videos needs OpenCV: pip install 'alignseg[train]'") from error
    return cv2


def _declared(path: str | Path, name: str) -> float | None:
    """A positive, finite property (``CAP_PROP_<name>``) a video file declares, else ``None``."""
    cv2 = require_cv2()
    capture = cv2.VideoCapture(str(path))
    try:
        value = capture.get(getattr(cv2, f"CAP_PROP_{name}")) if capture.isOpened() else 0.0
    finally:
        capture.release()
    return float(value) if value and np.isfinite(value) and value > 0 else None


def video_fps(path: str | Path, default: float = 25.0) -> float:
    """The frame rate a video file declares, or ``default`` when it declares none."""
    return _declared(path, "FPS") or default


def video_frame_count(path: str | Path) -> int | None:
    """The number of frames a video file declares (containers may be approximate), or ``None``."""
    count = _declared(path, "FRAME_COUNT")
    return int(count) if count else None


def read_video_frames(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video as ``H×W×3`` RGB uint8 arrays, at most ``max_frames`` of them."""
    cv2 = require_cv2()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"video file {path} does not exist")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DataError(f"cannot open video file {path} (is it a valid video OpenCV can decode?)")
        count = 0
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise DataError(f"no frame could be read from video file {path}")
    finally:
        capture.release()
