"""``Predictor``: an alignseg checkpoint in, label maps (and optionally logits and semantic flows) out.

The predictor normalises RGB images like training did (ImageNet mean/std on values in [0, 1]), runs one
of the released test-time modes of ``alignseg.evaluation`` (whole image or sliding window, over scales and
an optional horizontal flip, logits averaged) through a backend, and takes the arg-max.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ..data import (
    CAMVID_CLASSES,
    CAMVID_PALETTE,
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    default_palette,
    read_image,
)
from ..evaluation import multi_scale_inference
from ..models.ops.flow_warp import flow_to_pixels
from ..models.weights import Checkpoint, WeightsError, read_checkpoint
from .backends import Backend, check_backend, create_backend, resolve_device

__all__ = [
    "DATASET_TABLES",
    "CheckpointInfo",
    "InferenceSettings",
    "Prediction",
    "Predictor",
    "read_checkpoint_info",
    "resolve_classes",
]

Color = tuple[int, int, int]

DATASET_TABLES: dict[str, tuple[tuple[str, ...], tuple[Color, ...]]] = {
    "cityscapes": (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
    "camvid": (CAMVID_CLASSES, CAMVID_PALETTE),
}
"""Class names and palettes ``--dataset`` can choose, for checkpoints that do not carry their own."""


@dataclass(frozen=True)
class CheckpointInfo:
    """The metadata of an alignseg checkpoint; ``None`` where the file does not say (bare state dicts,
    ``alignseg convert`` output without class names or palette)."""

    path: Path
    model: str | None = None
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    palette: tuple[Color, ...] | None = None
    ignore_index: int = 255


def read_checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """Read the metadata of a checkpoint written by the training engine or ``alignseg convert``."""
    return checkpoint_info(read_checkpoint(path))


def checkpoint_info(checkpoint: Checkpoint) -> CheckpointInfo:
    """The metadata of a checkpoint already read, with the types checked."""
    meta, path = checkpoint.metadata, checkpoint.source
    model, num_classes = meta.get("model"), meta.get("num_classes")
    names, palette = meta.get("class_names"), meta.get("palette")
    return CheckpointInfo(
        path=Path(path),
        model=model if isinstance(model, str) else None,
        num_classes=int(num_classes) if isinstance(num_classes, int) else None,
        class_names=tuple(str(name) for name in names) if names else None,
        palette=tuple((int(r), int(g), int(b)) for r, g, b in palette) if palette else None,
        ignore_index=int(meta.get("ignore_index", 255)),
    )


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


@dataclass(frozen=True)
class InferenceSettings:
    """Test-time mode (spec sfnet.md 4.6): whole image or sliding ``window`` tiles, over ``scales``,
    with an optional horizontal flip; logits are averaged over all passes."""

    mode: Literal["whole", "sliding"] = "whole"
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    window: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("whole", "sliding"):
            raise ValueError(f"inference mode must be 'whole' or 'sliding', got {self.mode!r}")
        if self.mode == "sliding" and self.window is None:
            raise ValueError("sliding-window inference needs a window size (--window H W)")
        if not self.scales or any(scale <= 0 for scale in self.scales):
            raise ValueError(f"scales must be positive numbers, got {list(self.scales)}")

    @property
    def single_pass(self) -> bool:
        """True when the result is one whole-image forward pass at the original size."""
        return self.mode == "whole" and tuple(self.scales) == (1.0,) and not self.flip


@dataclass
class Prediction:
    """One image's result: ``label`` ``H×W`` uint8 class ids; ``logits`` ``1×K×H×W`` (when asked for);
    ``flows`` the semantic flows in output-grid pixels, one ``2×h×w`` array per flow field (when asked for)."""

    label: np.ndarray
    logits: Tensor | None = None
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
    """Label maps for RGB images from a backend (see ``backends.py``) and the inference settings."""

    def __init__(
        self,
        backend: Backend,
        *,
        class_names: Sequence[str] | None = None,
        palette: Sequence[Sequence[int]] | None = None,
        settings: InferenceSettings | None = None,
        ignore_index: int = 255,
        model_name: str | None = None,
    ) -> None:
        self.backend = backend
        self.num_classes = int(backend.num_classes)
        if not 1 <= self.num_classes <= 255:
            raise ValueError(f"{self.num_classes} classes do not fit 8-bit label maps (at most 255 classes)")
        self.class_names, self.palette = resolve_classes(self.num_classes, class_names=class_names, palette=palette)
        self.settings = settings or InferenceSettings()
        self.ignore_index = ignore_index
        self.model_name = model_name
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    @classmethod
    def from_checkpoint(
        cls,
        weights: str | os.PathLike,
        *,
        model: str | None = None,
        num_classes: int | None = None,
        dataset: str | None = None,
        settings: InferenceSettings | None = None,
        backend: str = "torch",
        device: str = "cpu",
        precision: str = "fp32",
        calibration: str | os.PathLike | None = None,
    ) -> Predictor:
        """Build the model named in the checkpoint (or ``model``), load its weights and wrap it.

        Class names and palette come from the checkpoint unless ``dataset`` names a table; a checkpoint
        without them (``alignseg convert`` output) falls back to ``default_palette``. ``calibration`` is
        the image folder an openvino int8 backend is quantised from.
        """
        from ..models.factory import create_model

        checkpoint = read_checkpoint(weights)
        info = checkpoint_info(checkpoint)
        name = model or info.model
        if name is None:
            raise WeightsError(f"weights file {info.path} does not name its model: pass --model NAME")
        classes = num_classes or info.num_classes
        if classes is None:
            raise WeightsError(f"weights file {info.path} does not give its number of classes: pass --num-classes K")
        check_backend(backend)  # fail before building the model
        resolve_device(device)
        network = create_model(name, num_classes=classes, pretrained=checkpoint)
        names, palette = resolve_classes(classes, class_names=info.class_names, palette=info.palette, dataset=dataset)
        return cls(
            create_backend(backend, network, classes, device, precision, calibration),
            class_names=names,
            palette=palette,
            settings=settings,
            ignore_index=info.ignore_index,
            model_name=name,
        )

    @property
    def device(self) -> torch.device:
        """Where batches are prepared: the backend's device (torch), else the CPU."""
        return torch.device(getattr(self.backend, "device", "cpu"))

    @property
    def has_flows(self) -> bool:
        """Whether the backend can return semantic flows (models without flows then return none)."""
        return hasattr(self.backend, "forward_with_flows")

    def preprocess(self, image: np.ndarray) -> Tensor:
        """``H×W×3`` RGB uint8 → normalised ``1×3×H×W`` float tensor."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 RGB uint8 image, got {image.dtype} {image.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        return (tensor - self._mean) / self._std

    def predict(
        self,
        image: np.ndarray | str | os.PathLike,
        *,
        return_logits: bool = False,
        return_flows: bool = False,
    ) -> Prediction:
        """Predict one image (an RGB array or an image file path)."""
        if isinstance(image, (str, os.PathLike)):
            image = read_image(image)
        batch = self.preprocess(image).to(self.device)
        flows: list[np.ndarray] = []
        logits = None
        if return_flows and self.has_flows:
            flow_logits, raw_flows = self.backend.forward_with_flows(batch)  # type: ignore[attr-defined]
            flows = split_flows(raw_flows)
            if self.settings.single_pass:
                logits = flow_logits
        if logits is None:
            settings = self.settings
            logits = multi_scale_inference(
                self.backend,
                batch,
                scales=settings.scales,
                flip=settings.flip,
                mode=settings.mode,
                window=settings.window,
                stride=settings.stride,
                align_corners=self.backend.align_corners,
            )
        label = logits.argmax(dim=1)[0].to(torch.uint8).cpu().numpy()
        return Prediction(label=label, logits=logits.cpu() if return_logits else None, flows=flows)

    __call__ = predict
