"""What ``alignseg predict`` writes, and the loop over an input (image, folder or video) that writes it.

Per image file ``<file>`` (its whole name, extension included, so ``frame.jpg`` and ``frame.png`` in one
folder never collide) in the output folder, mirroring the sub-folders of a folder input:

- ``<file>_ids.png``: single-channel 8-bit class ids (L mode, lossless): what tools read;
- ``<file>_color.png``: the same class ids as a palette (P mode) PNG whose embedded palette holds the
  class colours, so it opens in colour in any viewer and still reads as class ids (ignore = 255, black);
- ``<file>_overlay.png``: the colour-coded prediction blended over the image, with a legend of the classes
  present in it;
- ``<file>_flow{i}.png`` (``flows``): each semantic flow field colour-coded (``viz.flow_picture``),
  resized to the image with nearest-neighbour sampling, with the colour wheel and its radius in pixels;
- ``cityscapes_results/<stem>_labelIds.png`` (``cityscapes_format``): Cityscapes label ids for the
  benchmark server, in a folder of its own: the official evaluation matches every
  ``<city>_<seq>_<frame>*.png`` under the results folder and refuses a frame with several matches.

The suffixes (``ids``, ``color``, ``overlay``, ``flow0``...) hold no underscore, so the outputs of two
different inputs can never share a name. A video ``<file>`` (e.g. ``clip.mp4``) gives ``<file>_overlay.mp4``
(the overlay with a legend of every class, and with ``flows`` the first flow field beside it) and, with
``save_frames``, the per-image files above for every frame in ``<file>_frames/`` as ``<frame:06d>_*``.
Every file is written to a temporary file and renamed into place, so a file is either complete or absent;
the overlay is written last, so an image whose overlay exists is done and a rerun skips it (``overwrite``
redoes it). A file that cannot be read or predicted is reported and skipped, the rest still written; the
outputs of alignseg (anything under the output folder, and ``<image file>_<kind>.png`` names) are never
taken as inputs, so an output folder inside the input folder does not feed back into a run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from .. import viz
from ..data import CITYSCAPES_TRAINID_TO_ID, DataError, read_image
from ..fileio import atomic_write
from .inputs import IMAGE_SUFFIXES, find_images, input_kind, read_video_frames, video_fps, video_frame_count
from .pipeline import Pipeline, StageTimes
from .predictor import Prediction, Predictor
from .progress import ProgressBar
from .video import AtomicVideoWriter, chosen_codecs

__all__ = [
    "CITYSCAPES_RESULTS_FOLDER",
    "OUTPUT_KINDS",
    "OutputOptions",
    "OutputUnwritable",
    "PredictSummary",
    "cityscapes_result_name",
    "is_output",
    "output_name",
    "predict_path",
    "to_cityscapes_label_ids",
    "write_palette_png",
    "write_png",
    "write_prediction",
]

CITYSCAPES_RESULTS_FOLDER = "cityscapes_results"
OUTPUT_KINDS = ("ids", "color", "overlay", "flow")
"""The suffixes of the per-image files (``flow`` is followed by the field index); none holds an underscore."""
INPUT_ERRORS = (DataError, OSError, ValueError)
"""What reading, predicting or writing one image may raise: that image is reported and skipped."""
_OUTPUT_PATTERN = re.compile(
    r".+(" + "|".join(re.escape(suffix) for suffix in IMAGE_SUFFIXES) + r")_(ids|color|overlay|flow\d+)\.png",
    re.IGNORECASE,
)
"""Names of per-image outputs: an image file's whole name, then ``_<kind>.png``."""


@dataclass(frozen=True)
class OutputOptions:
    """Which files to write besides ``_ids.png``, ``_color.png`` and ``_overlay.png``, video limits and codec
    (``video_codec``: ``h264``, ``vp9`` or ``mp4v``; ``None``: the first of them OpenCV can encode), and
    whether decoding and writing overlap inference (``overlap``; off: the same stages one after another)."""

    flows: bool = False
    cityscapes_format: bool = False
    alpha: float = 0.5
    save_frames: bool = False
    max_frames: int | None = None
    progress: bool = True
    overwrite: bool = False
    overlap: bool = True
    video_codec: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"overlay alpha must be in [0, 1], got {self.alpha}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"max frames must be at least 1, got {self.max_frames}")
        chosen_codecs(self.video_codec)  # an unknown name fails here


@dataclass
class PredictSummary:
    """What one run did: inputs predicted, files written, notes worth telling the user, inputs skipped
    because their outputs exist (``done``), inputs that failed (``failed``: one message each), why the run
    stopped early (``stopped``: the output folder took no more files; what was written before is whole) and
    where the time went (``timing``: seconds per stage, end-to-end FPS)."""

    images: int = 0
    frames: int = 0
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    done: int = 0
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None
    timing: StageTimes | None = None


class OutputUnwritable(Exception):
    """The output folder takes no more files (full disk, read-only file system, quota, no permission): no later
    image can be written either, so the run stops at the first (not an ``OSError``: never one image's failure)."""

    REASONS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM})

    def __init__(self, error: OSError):
        self.path = Path(error.filename or "")
        super().__init__(f"{error.filename}: {error.strerror}: nothing more can be written there, so the run stopped "
                         "at the first file it could not write")


def _write_output(path: str | os.PathLike, save: Callable) -> Path:
    """``atomic_write``, with a disk or folder that refuses files raised as ``OutputUnwritable``."""
    try:
        return atomic_write(path, save)
    except OSError as error:
        if error.errno in OutputUnwritable.REASONS:
            raise OutputUnwritable(error if error.filename else OSError(error.errno, error.strerror, str(path))) \
                from error
        raise


def output_name(name: str, kind: str, suffix: str = ".png") -> str:
    """``<name>_<kind><suffix>``: ``name`` is the input's whole file name (``frame.jpg``), ``kind`` one of
    ``OUTPUT_KINDS`` (flows with their index, ``flow0``)."""
    if "_" in kind:
        raise ValueError(f"output kind {kind!r} must not hold an underscore (names could collide)")
    return f"{name}_{kind}{suffix}"


def write_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array (``H×W`` grey or ``H×W×3`` RGB) as a lossless PNG, atomically."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: PNG outputs are uint8 arrays, got {array.dtype}")
    picture = Image.fromarray(array)
    return _write_output(path, lambda stream: picture.save(stream, format="PNG"))


def write_palette_png(path: str | os.PathLike, label: np.ndarray, palette) -> Path:
    """Write class ids as a P-mode PNG with ``palette`` embedded (``viz.palette_image``), atomically."""
    picture = viz.palette_image(label, palette)
    return _write_output(path, lambda stream: picture.save(stream, format="PNG"))


def to_cityscapes_label_ids(label: np.ndarray) -> np.ndarray:
    """Cityscapes train ids (0..18, 255 ignore) → label ids (7 road ... 33 bicycle, ignore → 0)."""
    return CITYSCAPES_TRAINID_TO_ID(np.asarray(label, dtype=np.uint8))


def cityscapes_result_name(name: str) -> str:
    """File name of a Cityscapes benchmark result: the image stem (``<city>_<seq>_<frame>_leftImg8bit``)
    kept, so the server's ``<city>_<seq>_<frame>*.png`` pattern finds it, + ``_labelIds.png``."""
    return f"{name}_labelIds.png"


def write_prediction(
    prediction: Prediction,
    image: np.ndarray,
    folder: Path,
    name: str,
    predictor: Predictor,
    options: OutputOptions,
    cityscapes_folder: Path | None = None,
    times: StageTimes | None = None,
) -> list[Path]:
    """Write the files of one predicted image named ``name`` (its file name; see the module docstring);
    the seconds spent drawing pictures are added to ``times.render``."""
    label = prediction.label
    palette, names = predictor.palette, predictor.class_names
    rendering = partial(times.measure, "render") if times is not None else contextlib.nullcontext
    files = [
        write_png(folder / output_name(name, "ids"), label),
        write_palette_png(folder / output_name(name, "color"), label, palette),
    ]
    if options.flows:
        for index, flow in enumerate(prediction.flows):
            with rendering():
                picture = viz.flow_picture(flow, size=label.shape)
            files.append(write_png(folder / output_name(name, f"flow{index}"), picture))
    if options.cityscapes_format:
        stem = Path(name).stem
        target = (cityscapes_folder or folder / CITYSCAPES_RESULTS_FOLDER) / cityscapes_result_name(stem)
        files.append(write_png(target, to_cityscapes_label_ids(label)))
    with rendering():
        overlay = viz.overlay_with_legend(image, label, names, palette, alpha=options.alpha)
    files.append(write_png(folder / output_name(name, "overlay"), overlay))  # last: its presence marks the image done
    return files


def is_output(path: Path) -> bool:
    """Whether ``path`` is named like a per-image output of alignseg (``frame.jpg_ids.png``...)."""
    return _OUTPUT_PATTERN.fullmatch(path.name) is not None


def _is_done(folder: Path, name: str, cityscapes_folder: Path, options: OutputOptions) -> bool:
    """Whether an image's outputs exist (its overlay, written last, and the Cityscapes file when asked)."""
    if not (folder / output_name(name, "overlay")).is_file():
        return False
    return not options.cityscapes_format or (cityscapes_folder / cityscapes_result_name(Path(name).stem)).is_file()


def _read_or_error(path: Path) -> tuple[Path, np.ndarray | Exception]:
    """An image file's pixels, or the error that names it (reported with the file, the run goes on)."""
    try:
        return path, read_image(path)
    except INPUT_ERRORS as error:
        return path, error


def _predict_images(
    predictor: Predictor,
    images: list[Path],
    root: Path,
    output: Path,
    options: OutputOptions,
    summary: PredictSummary,
    progress: Callable[[str], None],
    report: Callable[[str], None],
) -> None:
    todo = []
    for path in images:
        relative = path.parent.relative_to(root)
        if not options.overwrite and _is_done(output / relative, path.name,
                                              output / CITYSCAPES_RESULTS_FOLDER / relative, options):
            summary.done += 1
        else:
            todo.append(path)

    def finished(path: Path, seconds: float) -> Callable[[Future], None]:
        def done(outcome: Future) -> None:  # on this thread, in input order
            try:
                files = outcome.result()
            except INPUT_ERRORS as error:
                summary.failed.append(f"{path}: {error}")
                report(f"failed: {summary.failed[-1]}")
                return
            summary.images += 1
            summary.files += files
            progress(f"{path} -> {output / path.parent.relative_to(root) / path.name}_*.png "
                     f"(inference {seconds * 1000:.0f} ms)")
        return done

    with Pipeline(overlap=options.overlap) as pipeline:
        for path, image in pipeline.read(_read_or_error(path) for path in todo):
            if isinstance(image, Exception):
                pipeline.settle(image, finished(path, 0.0))
                continue
            start = time.perf_counter()
            flows = _ask_flows(predictor, path, image, options, summary)
            try:
                prediction = pipeline.infer(predictor.predict, image, return_flows=flows)
            except INPUT_ERRORS as error:
                pipeline.settle(error, finished(path, 0.0))
                continue
            relative = path.parent.relative_to(root)
            job = partial(write_prediction, prediction, image, output / relative, path.name, predictor, options,
                          cityscapes_folder=output / CITYSCAPES_RESULTS_FOLDER / relative, times=pipeline.times)
            pipeline.submit(job, finished(path, time.perf_counter() - start), nbytes=image.nbytes)
            if flows and not prediction.flows:
                note = f"model {predictor.model_name or ''} gives no semantic flows: no _flow PNGs were written"
                if note not in summary.notes:
                    summary.notes.append(note)
        summary.timing = pipeline.finish()


def _ask_flows(predictor: Predictor, path: Path | str, image: np.ndarray, options: OutputOptions,
               summary: PredictSummary) -> bool:
    """Whether to ask for flows: ``options.flows``, unless the image is over the pixel budget (tiles give class
    ids only), which a note says once per image, with what is written instead and how to raise the budget."""
    if not options.flows or not predictor.over_budget(image):
        return options.flows
    pixels = image.shape[0] * image.shape[1]
    summary.notes.append(f"{path} is {predictor.budget_reason(image)}: its _ids, _color and _overlay PNGs were "
                         f"written, no _flow PNGs; --max-pixels {pixels} (or 0: no budget) gives them, with memory "
                         "growing with the image")
    return False


def _video_frame(frame: np.ndarray, prediction: Prediction, predictor: Predictor, options: OutputOptions,
                 legend: np.ndarray, flow_scale: list[float]) -> np.ndarray:
    """One frame of the output video: overlay + legend, and with ``flows`` the first flow field beside it,
    coloured on the largest displacement seen so far (``flow_scale``, updated) so colours stay comparable."""
    picture = viz.with_legend(viz.overlay(frame, prediction.label, predictor.palette, alpha=options.alpha), legend)
    if not options.flows or not prediction.flows:
        return picture
    flow = prediction.flows[0]
    flow_scale[0] = max(flow_scale[0], float(np.hypot(flow[0], flow[1]).max()))
    return viz.side_by_side(picture, viz.flow_picture(flow, size=frame.shape[:2], max_magnitude=flow_scale[0]), gap=0)


def _predict_video(
    predictor: Predictor,
    path: Path,
    output: Path,
    options: OutputOptions,
    summary: PredictSummary,
    progress: Callable[[str], None],
    report: Callable[[str], None],
) -> None:
    video_path = output / output_name(path.name, "overlay", ".mp4")
    frames_folder = output / f"{path.name}_frames"
    if not options.overwrite and video_path.is_file():
        summary.done += 1
        return
    declared = video_frame_count(path)
    total = declared
    if options.max_frames is not None:
        total = min(total, options.max_frames) if total else options.max_frames
    bar = ProgressBar(total, "frames") if options.progress else None
    legends: list[np.ndarray] = []  # drawn once, on the writer thread, with every class: the frame size stays
    flow_scale = [0.0]
    flows_seen = False

    def write_frame(index: int, frame: np.ndarray, prediction: Prediction) -> list[Path]:
        with times.measure("render"):
            if not legends:
                legends.append(viz.draw_legend(predictor.class_names, predictor.palette,
                                               font_size=viz.font_size_for(frame.shape[0]), max_height=frame.shape[0]))
            picture = _video_frame(frame, prediction, predictor, options, legends[0], flow_scale)
        writer.write(picture)
        if not options.save_frames:
            return []
        return write_prediction(prediction, frame, frames_folder, f"{index:06d}", predictor, options, times=times)

    def written(outcome: Future) -> None:
        summary.files.extend(outcome.result())  # a failed write ends the run (the partial video is discarded)

    flows: bool | None = None
    writer = AtomicVideoWriter(video_path, video_fps(path), chosen_codecs(options.video_codec))
    with writer, Pipeline(overlap=options.overlap) as pipeline:
        times = pipeline.times
        for index, frame in enumerate(pipeline.read(read_video_frames(path, options.max_frames))):
            if flows is None:  # frames share one size
                flows = _ask_flows(predictor, f"{path} (its frames)", frame, options, summary)
            prediction = pipeline.infer(predictor.predict, frame, return_flows=flows)
            pipeline.submit(partial(write_frame, index, frame, prediction), written, nbytes=frame.nbytes)
            flows_seen = flows_seen or bool(prediction.flows)
            summary.frames += 1
            if bar is not None:
                bar.update()
        pipeline.finish()  # every frame handed to the encoder, then
        with pipeline.times.measure("write"):
            writer.close()  # the frames it still buffers are encoded (VP9 holds back up to 25)
        summary.timing = pipeline.finish()
    if bar is not None:
        bar.close()
    if writer.warning:
        summary.notes.append(writer.warning)
    if flows and not flows_seen:
        summary.notes.append(f"model {predictor.model_name or ''} gives no semantic flows: the video has no flow panel")
    summary.files.append(video_path)
    progress(f"{path}: {summary.frames} frames -> {video_path} ({writer.codec})")
    expected = min(declared, options.max_frames or declared) if declared else None
    if expected is not None and summary.frames != expected:
        summary.failed.append(f"{path}: the container declares {expected} frames but {summary.frames} were decoded "
                              f"(a truncated or corrupt video); {video_path} holds the decoded ones")
        report(f"failed: {summary.failed[-1]}")


def _folder_inputs(source: Path, output: Path) -> list[Path]:
    """The images under ``source`` that are not outputs: nothing under ``output``, no alignseg output name."""
    output = output.resolve()
    images = [path for path in find_images(source)
              if not is_output(path) and not path.resolve().is_relative_to(output)]
    if not images:
        raise DataError(f"no images to predict under {source}: only outputs of alignseg (under {output}) were found")
    return images


def predict_path(
    predictor: Predictor,
    source: str | os.PathLike,
    output: str | os.PathLike,
    options: OutputOptions | None = None,
    progress: Callable[[str], None] | None = None,
    report: Callable[[str], None] | None = None,
) -> PredictSummary:
    """Predict an image, every image under a folder, or the frames of a video, and write the results.

    ``progress`` gets a line per input; ``report`` a line per input that failed (also listed in the
    summary's ``failed``), as it happens. An output folder that takes no more files (``OutputUnwritable``)
    ends the run at once, with the reason in the summary's ``stopped``."""
    options = options or OutputOptions()
    source, output = Path(source), Path(output)
    progress = progress or (lambda message: None)
    report = report or progress
    if options.cityscapes_format and predictor.num_classes != 19:
        raise ValueError(
            f"Cityscapes format needs a 19-class Cityscapes model; this one has {predictor.num_classes} classes"
        )
    kind = input_kind(source)
    summary = PredictSummary()
    start = time.perf_counter()
    try:
        if kind == "video":
            _predict_video(predictor, source, output, options, summary, progress, report)
        elif kind == "folder":
            _predict_images(predictor, _folder_inputs(source, output), source, output, options, summary, progress,
                            report)
        else:
            _predict_images(predictor, [source], source.parent, output, options, summary, progress, report)
    except OutputUnwritable as error:
        summary.stopped = str(error)
    summary.seconds = time.perf_counter() - start
    return summary
