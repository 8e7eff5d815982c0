"""``Predictor``: a weights file in (checkpoint, ``save_pretrained`` folder, .onnx or OpenVINO .xml), label
maps out (and on request class probabilities and semantic flows), for one image, a batch, a folder or a video.

It normalises RGB images as the model was trained (the file's mean/std; ImageNet's by default), runs the
test-time mode of its ``InferenceSettings`` (whole image or sliding window, over scales and an optional
horizontal flip, logits averaged) through one ``alignseg.deploy`` runner, built once, and takes the arg-max.

An image over ``max_pixels`` is predicted in row bands of sliding-window tiles (``tiled_label``), so memory
stays bounded by the tile and band sizes, not by the image: a band's logits are reduced to class ids before
the next band runs, and the full-resolution image is normalised one band at a time.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..data.io import read_image
from ..data.labels import CAMVID_CLASSES, CAMVID_PALETTE, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, default_palette
from ..data.normalize import IMAGENET_MEAN, IMAGENET_STD
from ..deploy.open_weights import open_runner
from ..deploy.runtimes import Runner
from ..evaluation.inference import InferenceSettings, predict_logits
from ..models.checkpoint import ModelRecord
from ..models.ops.flow_warp import flow_to_pixels
from ..models.weights import WeightsError
from .inputs import find_images, read_video_frames

__all__ = ["DATASET_TABLES", "Prediction", "Predictor", "resolve_classes"]

Color = tuple[int, int, int]
MAX_PIXELS = 8_000_000
"""Default pixel budget of one forward pass: larger images are predicted in tiles (``tiled_label``)."""

DATASET_TABLES: dict[str, tuple[tuple[str, ...], tuple[Color, ...]]] = {
    "cityscapes": (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
    "camvid": (CAMVID_CLASSES, CAMVID_PALETTE),
}
"""Class names and palettes ``--dataset`` can choose, for weights that do not carry their own."""


def resolve_classes(
    num_classes: int,
    *,
    class_names: Sequence[str] | None = None,
    palette: Sequence[Sequence[int]] | None = None,
    dataset: str | None = None,
) -> tuple[tuple[str, ...], tuple[Color, ...]]:
    """Class names and one colour per class: a ``dataset`` table when one is named, else the given ones
    (from the checkpoint), else ``class_i`` and ``default_palette``. Short tables are padded."""
    if dataset is not None:
        if dataset not in DATASET_TABLES:
            raise ValueError(f"unknown dataset {dataset!r} for palettes: choose one of {', '.join(DATASET_TABLES)}")
        class_names, palette = DATASET_TABLES[dataset]
    names = list(class_names or [])[:num_classes]
    names += [f"class_{i}" for i in range(len(names), num_classes)]
    colors = [(int(r), int(g), int(b)) for r, g, b in (palette or [])][:num_classes]
    colors += default_palette(num_classes)[len(colors) :]
    return tuple(names), tuple(colors)


@dataclass
class Prediction:
    """One image's result: ``label`` ``H×W`` uint8 class ids; on request ``logits`` ``1×K×H×W``,
    ``probabilities`` ``K×H×W`` float32 (softmax of the logits) and ``flows``, the semantic flows in
    output-grid pixels, one ``2×h×w`` array per flow field (PyTorch weights of flow-aligned models only)."""

    label: np.ndarray
    logits: Tensor | None = None
    probabilities: np.ndarray | None = None
    flows: list[np.ndarray] = field(default_factory=list)


def split_flows(flows: Sequence[Tensor]) -> list[np.ndarray]:
    """Flows of one image in pixels, one ``2×h×w`` field each (a GD-FAM flow has 4 channels = 2 fields)."""
    fields = []
    for flow in flows:
        if flow.dim() != 4 or flow.shape[1] % 2:
            raise ValueError(f"expected flows N×2k×H×W, got {tuple(flow.shape)}")
        fields += [flow_to_pixels(pair)[0].cpu().numpy() for pair in flow.split(2, dim=1)]
    return fields


class Predictor:
    """Label maps for RGB images: a ``Runner`` (any backend), the model's ``ModelRecord`` and the settings.

    Build one with :meth:`from_checkpoint` (any weights file) or :meth:`from_pretrained` (a folder of
    ``alignseg.save_pretrained``)::

        predictor = alignseg.Predictor.from_checkpoint("model_best.safetensors")   # or .onnx / .xml
        prediction = predictor("street.jpg")                 # .label: H×W uint8 class ids
        batch = predictor([image_a, image_b], return_probabilities=True)
        for path, prediction in predictor.predict_folder("images/"): ...
    """

    def __init__(self, runner: Runner, record: ModelRecord | None = None, *, settings: InferenceSettings | None = None,
                 dataset: str | None = None, max_pixels: int | None = MAX_PIXELS) -> None:
        record = record or runner.record or ModelRecord()
        self.runner = runner
        self.record = record
        self.num_classes = int(record.num_classes or runner.num_classes or 0)
        if not 1 <= self.num_classes <= 255:
            raise ValueError(f"{self.num_classes} classes do not fit 8-bit label maps (at most 255 classes)")
        self.class_names, self.palette = resolve_classes(
            self.num_classes, class_names=record.class_names, palette=record.palette, dataset=dataset)
        self.settings = (settings or InferenceSettings()).check()
        self.ignore_index = record.ignore_index
        self.model_name = record.model
        if max_pixels is not None and max_pixels < 64 * 64:
            raise ValueError(f"max_pixels must be at least {64 * 64} (a 64x64 tile), got {max_pixels}")
        self.max_pixels = max_pixels
        self._mean = torch.tensor(record.mean or IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(record.std or IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)

    @classmethod
    def from_checkpoint(
        cls,
        weights: str | os.PathLike,
        *,
        model: str | None = None,
        num_classes: int | None = None,
        dataset: str | None = None,
        settings: InferenceSettings | None = None,
        backend: str | None = None,
        device: str | None = None,
        precision: str = "fp32",
        calibration: str | os.PathLike | None = None,
        threads: int | None = None,
        max_pixels: int | None = MAX_PIXELS,
    ) -> Predictor:
        """A predictor for a weights file: an alignseg checkpoint (.safetensors, or an older .pt/.ckpt), a
        released checkpoint (``model`` names it), or an exported .onnx / OpenVINO .xml, run as it is.

        The model name, classes, palette and normalisation come from the file (``model``/``num_classes``
        for files that do not record them; ``dataset`` picks a palette table instead). ``backend`` is
        eager PyTorch for checkpoints (or ``compile``, ``onnxruntime``, ``openvino``: the model is exported
        once, here) and onnxruntime/openvino for .onnx/.xml; ``device`` defaults to the best one available.
        ``calibration`` is the image folder an openvino ``int8`` runner is quantised from (an INT8 .xml from
        ``alignseg export --int8`` needs none). Images over ``max_pixels`` are predicted in tiles (``None``: never).
        """
        runner, record = open_runner(weights, backend, model=model, num_classes=num_classes, calibration=calibration,
                                     device=device, precision=precision, threads=threads)
        return cls(runner, record, settings=settings, dataset=dataset, max_pixels=max_pixels)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, **options) -> Predictor:
        """A predictor for a ``save_pretrained`` folder (its ``model.safetensors``; nothing is downloaded)."""
        if not Path(folder).is_dir():
            raise WeightsError(f"{os.fspath(folder)!r} is not a save_pretrained folder")
        return cls.from_checkpoint(folder, **options)

    @property
    def device(self) -> torch.device:
        """Where batches are prepared: the runner's device."""
        return torch.device(self.runner.device)

    @property
    def has_flows(self) -> bool:
        """Whether the runner can return semantic flows (PyTorch runners; models without flows give none)."""
        return hasattr(self.runner, "forward_with_flows")

    def preprocess(self, image: np.ndarray) -> Tensor:
        """``H×W×3`` RGB uint8 → normalised ``1×3×H×W`` float tensor."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 RGB uint8 image, got {image.dtype} {image.shape}")
        pixels = torch.from_numpy(np.require(image, requirements=["C", "W"]))  # copies read-only arrays (PIL's)
        tensor = pixels.permute(2, 0, 1).unsqueeze(0).float() / 255.0
        return (tensor - self._mean) / self._std

    def predict(
        self,
        image: np.ndarray | str | os.PathLike | Sequence[np.ndarray | str | os.PathLike],
        *,
        return_logits: bool = False,
        return_probabilities: bool = False,
        return_flows: bool = False,
    ) -> Prediction | list[Prediction]:
        """Predict one image (an RGB array or an image file path), or a list of them (a batch: images of
        one size run as one batch through the runner)."""
        asks = {"return_logits": return_logits, "return_probabilities": return_probabilities,
                "return_flows": return_flows}
        if isinstance(image, list | tuple):
            return self._predict_batch([self._read(item) for item in image], **asks)
        return self._predict_batch([self._read(image)], **asks)[0]

    __call__ = predict

    def predict_folder(self, folder: str | os.PathLike, **asks: bool) -> Iterator[tuple[Path, Prediction]]:
        """``(path, prediction)`` for every image under ``folder`` (recursively, sorted)."""
        for path in find_images(folder):
            yield path, self.predict(path, **asks)

    def predict_video(self, path: str | os.PathLike, *, max_frames: int | None = None,
                      **asks: bool) -> Iterator[tuple[np.ndarray, Prediction]]:
        """``(frame, prediction)`` for every frame of a video (OpenCV reads it: extra ``alignseg[train]``)."""
        for frame in read_video_frames(path, max_frames):
            yield frame, self.predict(frame, **asks)

    @staticmethod
    def _read(image: np.ndarray | str | os.PathLike) -> np.ndarray:
        return read_image(image) if isinstance(image, str | os.PathLike) else np.asarray(image)

    def _predict_batch(self, images: list[np.ndarray], *, return_logits: bool, return_probabilities: bool,
                       return_flows: bool) -> list[Prediction]:
        if not images:
            return []
        if any(self.over_budget(image) for image in images):
            asked = [name for name, on in (("logits", return_logits), ("probabilities", return_probabilities),
                                           ("flows", return_flows)) if on]
            if asked:
                index, big = next((i, image) for i, image in enumerate(images) if self.over_budget(image))
                raise ValueError(f"image {index} of the batch is {self.budget_reason(big)}, so it has no "
                                 f"{' or '.join(asked)}: ask without them for its class ids, or raise max_pixels to "
                                 f"at least {big.shape[0] * big.shape[1]} (memory grows with it)")
            return [Prediction(label=self.tiled_label(image)) for image in images]
        batch = torch.cat([self.preprocess(image) for image in images]) if len({i.shape for i in images}) == 1 \
            else None
        if batch is None:  # images of different sizes run one by one
            return [self._predict_batch([image], return_logits=return_logits,
                                        return_probabilities=return_probabilities, return_flows=return_flows)[0]
                    for image in images]
        batch = batch.to(self.device)
        flows: list[list[np.ndarray]] = [[] for _ in images]
        logits = None
        if return_flows and self.has_flows:
            flow_logits, raw_flows = self.runner.forward_with_flows(batch)
            flows = [split_flows([flow[i:i + 1] for flow in raw_flows]) for i in range(len(images))]
            if self.settings.single_pass:
                logits = flow_logits
        if logits is None and self.settings.single_pass and not (return_logits or return_probabilities):
            # class ids straight from the runner: a runtime that can computes them in its own graph
            labels = self.runner.labels(batch)
            if labels.shape[-2:] == batch.shape[-2:]:
                labels = labels.to(torch.uint8).cpu().numpy()
                return [Prediction(label=labels[i], flows=flows[i]) for i in range(len(images))]
        if logits is None:
            logits = predict_logits(self.runner, batch, self.settings)
        labels = logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
        probabilities = torch.softmax(logits.float(), dim=1).cpu().numpy() if return_probabilities else None
        return [Prediction(label=labels[i], logits=logits[i:i + 1].cpu() if return_logits else None,
                           probabilities=None if probabilities is None else probabilities[i], flows=flows[i])
                for i in range(len(images))]

    def over_budget(self, image: np.ndarray) -> bool:
        """Whether ``image`` has more than ``max_pixels`` pixels, so that it is predicted in tiles (``tiled_label``),
        which give class ids only (no logits, probabilities or flows)."""
        return self.max_pixels is not None and image.shape[0] * image.shape[1] > self.max_pixels

    def budget_reason(self, image: np.ndarray) -> str:
        """``WxH = N pixels, over the pixel budget ...``: why an image over the budget gets class ids only."""
        height, width = image.shape[:2]
        return (f"{width}x{height} = {width * height:,} pixels, over the pixel budget of {self.max_pixels:,} "
                "(max_pixels): predicted in tiles, which give class ids only")

    def tile_side(self) -> int:
        """Side of the square sliding-window tile for images over the budget: half the side of a
        ``max_pixels`` square (a quarter of the budget per tile), a multiple of 32, at least 64."""
        return max(64, int(math.isqrt(self.max_pixels or MAX_PIXELS) // 2) // 32 * 32)

    def tiled_label(self, image: np.ndarray) -> np.ndarray:
        """Class ids of a large image, one row band at a time: each band (tile height, plus a sixth of a tile
        of context above and below) runs the settings in sliding-window mode (the tile from ``tile_side``
        unless the settings give a window) and only its arg-max over the core rows is kept."""
        side = self.tile_side()
        settings = self.settings if self.settings.mode == "sliding" else \
            dataclasses.replace(self.settings, mode="sliding", window=side)
        height = image.shape[0]
        margin = side // 6
        core = side - 2 * margin
        label = np.empty(image.shape[:2], np.uint8)
        for top in range(0, height, core):
            start, stop = max(top - margin, 0), min(top + core + margin, height)
            band = self.preprocess(image[start:stop]).to(self.device)
            logits = predict_logits(self.runner, band, settings)
            rows = slice(top - start, min(top + core, height) - start)
            label[top : top + core] = logits[0, :, rows].argmax(dim=0).to(torch.uint8).cpu().numpy()
            del band, logits
        return label

    def close(self) -> None:
        """Free the runner (sessions, temporary exports)."""
        self.runner.close()
