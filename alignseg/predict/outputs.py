"""What ``alignseg predict`` writes, and the loop over an input (image, folder or video) that writes it.

Per image ``<name>`` (the file stem) in the output folder, mirroring the sub-folders of a folder input:

- ``<name>_label.png``: single-channel 8-bit class ids (lossless PNG);
- ``<name>_overlay.png``: the colour-coded prediction blended over the image;
- ``<name>_color.png`` (``color``): the colour-coded prediction alone;
- ``<name>_flow{i}.png`` (``flows``): each semantic flow field colour-coded (``viz.flow_to_color``),
  resized to the image with nearest-neighbour sampling;
- ``cityscapes_results/<name>_labelIds.png`` (``cityscapes_format``): Cityscapes label ids for the
  benchmark server, in a folder of its own: the official evaluation matches every
  ``<city>_<seq>_<frame>*.png`` under the results folder and refuses a frame with several matches.

A video ``<name>.mp4`` gives ``<name>_overlay.mp4`` (mp4v) and, with ``save_frames``, the per-image files
above for every frame in ``<name>_frames/`` as ``<name>_<frame:06d>_*``. Every file is written to a
temporary file and renamed into place, so a file is either complete or absent.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .. import viz
from ..data import CITYSCAPES_TRAINID_TO_ID, DataError, read_image
from ..fileio import atomic_write
from .inputs import find_images, input_kind, read_video_frames, require_cv2, video_fps
from .predictor import Prediction, Predictor

__all__ = [
    "CITYSCAPES_RESULTS_FOLDER",
    "OutputOptions",
    "PredictSummary",
    "cityscapes_result_name",
    "predict_path",
    "to_cityscapes_label_ids",
    "write_png",
    "write_prediction",
]

CITYSCAPES_RESULTS_FOLDER = "cityscapes_results"


@dataclass(frozen=True)
class OutputOptions:
    """Which files to write besides ``_label.png`` and ``_overlay.png``, and video limits."""

    color: bool = False
    flows: bool = False
    cityscapes_format: bool = False
    alpha: float = 0.5
    save_frames: bool = False
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"overlay alpha must be in [0, 1], got {self.alpha}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max frames must be at least 1, got {self.max_frames}")


@dataclass
class PredictSummary:
    """What one run did: inputs predicted, files written, notes worth telling the user."""

    images: int = 0
    frames: int = 0
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def write_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array (``H×W`` grey or ``H×W×3`` RGB) as a lossless PNG, atomically."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: PNG outputs are uint8 arrays, got {array.dtype}")
    picture = Image.fromarray(array)
    return atomic_write(path, lambda stream: picture.save(stream, format="PNG"))


def to_cityscapes_label_ids(label: np.ndarray) -> np.ndarray:
    """Cityscapes train ids (0..18, 255 ignore) → label ids (7 road ... 33 bicycle, ignore → 0)."""
    return CITYSCAPES_TRAINID_TO_ID(np.asarray(label, dtype=np.uint8))


def cityscapes_result_name(name: str) -> str:
    """File name of a Cityscapes benchmark result: the image stem (``<city>_<seq>_<frame>_leftImg8bit``)
    kept, so the server's ``<city>_<seq>_<frame>*.png`` pattern finds it, + ``_labelIds.png``."""
    return f"{name}_labelIds.png"


def _nearest_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.NEAREST))


def write_prediction(
    prediction: Prediction,
    image: np.ndarray,
    folder: Path,
    name: str,
    predictor: Predictor,
    options: OutputOptions,
    cityscapes_folder: Path | None = None,
) -> list[Path]:
    """Write the files of one predicted image (see the module docstring); return their paths."""
    label = prediction.label
    palette = predictor.palette
    files = [
        write_png(folder / f"{name}_label.png", label),
        write_png(folder / f"{name}_overlay.png", viz.overlay(image, label, palette, alpha=options.alpha)),
    ]
    if options.color:
        files.append(write_png(folder / f"{name}_color.png", viz.colorize(label, palette)))
    if options.flows:
        for index, flow in enumerate(prediction.flows):
            picture = _nearest_resize(viz.flow_to_color(flow), label.shape)
            files.append(write_png(folder / f"{name}_flow{index}.png", picture))
    if options.cityscapes_format:
        target = (cityscapes_folder or folder / CITYSCAPES_RESULTS_FOLDER) / cityscapes_result_name(name)
        files.append(write_png(target, to_cityscapes_label_ids(label)))
    return files


class AtomicVideoWriter:
    """An mp4v ``cv2.VideoWriter`` that writes to a temporary file and renames it on ``close()``.

    Opened on the first frame (its size is the video's size); frames are RGB uint8. Leaving the
    ``with`` block with an exception removes the temporary file.
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self.frames = 0
        self._writer = None
        self._temporary: Path | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        cv2 = require_cv2()
        height, width = frame.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=self.path.parent
            )
            os.close(handle)
            self._temporary = Path(temporary)
            self._writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            self._size = (height, width)
            if not self._writer.isOpened():
                raise DataError(f"OpenCV cannot write an mp4v video to {self.path}")
        if (height, width) != self._size:
            raise DataError(f"{self.path}: frame {self.frames} is {height}x{width}, the video {self._size}")
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self._writer is None or self._temporary is None:
            raise DataError(f"no frames were written to {self.path}")
        self._writer.release()
        os.replace(self._temporary, self.path)
        self._writer = self._temporary = None
        return self.path

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
        self._writer = self._temporary = None

    def __enter__(self) -> AtomicVideoWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


def _predict_images(
    predictor: Predictor,
    images: list[Path],
    root: Path,
    output: Path,
    options: OutputOptions,
    summary: PredictSummary,
    progress: Callable[[str], None],
) -> None:
    for path in images:
        relative = path.parent.relative_to(root)
        image = read_image(path)
        start = time.perf_counter()
        prediction = predictor.predict(image, return_flows=options.flows)
        files = write_prediction(
            prediction, image, output / relative, path.stem, predictor, options,
            cityscapes_folder=output / CITYSCAPES_RESULTS_FOLDER / relative,
        )  # fmt: skip
        summary.images += 1
        summary.files += files
        note = f"model {predictor.model_name or ''} gives no semantic flows: no _flow PNGs were written"
        if options.flows and not prediction.flows and note not in summary.notes:
            summary.notes.append(note)
        progress(f"{path} -> {output / relative / path.stem}_*.png ({(time.perf_counter() - start) * 1000:.0f} ms)")


def _predict_video(
    predictor: Predictor,
    path: Path,
    output: Path,
    options: OutputOptions,
    summary: PredictSummary,
    progress: Callable[[str], None],
) -> None:
    video_path = output / f"{path.stem}_overlay.mp4"
    frames_folder = output / f"{path.stem}_frames"
    if options.flows and not options.save_frames:
        summary.notes.append("--flows on a video writes the flow PNGs of each frame only with --save-frames")
    with AtomicVideoWriter(video_path, video_fps(path)) as writer:
        for index, frame in enumerate(read_video_frames(path, options.max_frames)):
            prediction = predictor.predict(frame, return_flows=options.flows and options.save_frames)
            writer.write(viz.overlay(frame, prediction.label, predictor.palette, alpha=options.alpha))
            summary.frames += 1
            if options.save_frames:
                name = f"{path.stem}_{index:06d}"
                summary.files += write_prediction(prediction, frame, frames_folder, name, predictor, options)
    summary.files.append(video_path)
    progress(f"{path}: {summary.frames} frames -> {video_path}")


def predict_path(
    predictor: Predictor,
    source: str | os.PathLike,
    output: str | os.PathLike,
    options: OutputOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> PredictSummary:
    """Predict an image, every image under a folder, or the frames of a video, and write the results."""
    options = options or OutputOptions()
    source, output = Path(source), Path(output)
    progress = progress or (lambda message: None)
    if options.cityscapes_format and predictor.num_classes != 19:
        raise ValueError(
            f"Cityscapes format needs a 19-class Cityscapes model; this one has {predictor.num_classes} classes"
        )
    kind = input_kind(source)
    summary = PredictSummary()
    start = time.perf_counter()
    if kind == "video":
        _predict_video(predictor, source, output, options, summary, progress)
    elif kind == "folder":
        _predict_images(predictor, find_images(source), source, output, options, summary, progress)
    else:
        _predict_images(predictor, [source], source.parent, output, options, summary, progress)
    summary.seconds = time.perf_counter() - start
    return summary
