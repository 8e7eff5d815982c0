"""Inference backends: small objects that map a normalised image batch ``N×3×H×W`` to logits ``N×K×H×W``.

A backend is anything with ``__call__(batch) -> logits`` plus ``name``, ``num_classes`` and ``align_corners``
(the model's resize convention, used by multi-scale and sliding-window inference) attributes;
one that can also show the decoder's semantic flows has ``forward_with_flows(batch) -> (logits, flows)``.
Besides PyTorch, the exported-model runners of ``alignseg.deploy`` (ONNX Runtime, OpenVINO) plug in here.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

__all__ = [
    "AVAILABLE_BACKENDS",
    "Backend",
    "RunnerBackend",
    "TorchBackend",
    "check_backend",
    "create_backend",
    "resolve_device",
]

AVAILABLE_BACKENDS = ("torch", "onnxruntime", "openvino")
# Exported graphs have dynamic height and width; the export itself traces at this (small) size.
_EXPORT_SIZE = (256, 512)


@runtime_checkable
class Backend(Protocol):
    """What the predictor needs from a backend."""

    name: str
    num_classes: int
    align_corners: bool

    def __call__(self, batch: Tensor) -> Tensor: ...


def resolve_device(device: str | torch.device) -> torch.device:
    """Parse ``device``; asking for CUDA on a machine without it is a clear error, not a crash later."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda' (or 'cuda:N')") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available here: use --device cpu")
    return resolved


class TorchBackend:
    """Runs a PyTorch segmentor in eval mode on ``device``; float32 logits come back on the batch's device
    (give it batches on ``device`` to keep multi-scale and sliding-window work there)."""

    name = "torch"

    def __init__(self, model: nn.Module, num_classes: int, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.num_classes = num_classes
        self.align_corners = bool(model.align_corners)

    @torch.no_grad()
    def __call__(self, batch: Tensor) -> Tensor:
        return self.model(batch.to(self.device)).float().to(batch.device)

    @torch.no_grad()
    def forward_with_flows(self, batch: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Logits and the semantic flows (released SFNet units), on the batch's device; models without
        flows give none."""
        if not hasattr(self.model, "forward_with_flows"):
            return self(batch), []
        logits, flows = self.model.forward_with_flows(batch.to(self.device))
        return logits.float().to(batch.device), [flow.float().to(batch.device) for flow in flows or []]


class RunnerBackend:
    """An ``alignseg.deploy`` runner (the model exported to ONNX Runtime or OpenVINO) as a predictor backend."""

    def __init__(self, runner, num_classes: int, align_corners: bool) -> None:
        self.runner = runner
        self.name = runner.name
        self.num_classes = num_classes
        self.align_corners = align_corners

    def __call__(self, batch: Tensor) -> Tensor:
        return self.runner(batch)


def check_backend(name: str) -> None:
    """Raise a clear error for a backend that is unknown."""
    if name not in AVAILABLE_BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(AVAILABLE_BACKENDS)}")


def create_backend(
    name: str, model: nn.Module, num_classes: int, device: str | torch.device = "cpu", precision: str = "fp32",
    calibration: str | os.PathLike | None = None,
) -> Backend:
    """The backend called ``name`` around ``model``; exported backends run ``precision`` (fp32 or bf16;
    openvino also int8, quantised from the images in the ``calibration`` folder)."""
    check_backend(name)
    if name == "torch":
        if precision != "fp32":
            raise ValueError(f"--precision {precision} needs an exported backend (onnxruntime or openvino); "
                             "the torch backend runs fp32")
        return TorchBackend(model, num_classes, device)
    if resolve_device(device).type != "cpu":
        raise ValueError(f"the {name} backend runs on the CPU here: use --device cpu")
    from ..deploy.quantize import calibration_for
    from ..deploy.runtimes import build_runner

    runner = build_runner(name, model.eval(), precision=precision, export={"size": _EXPORT_SIZE},
                          calibration=calibration_for(precision, calibration, _EXPORT_SIZE))
    return RunnerBackend(runner, num_classes, bool(model.align_corners))
