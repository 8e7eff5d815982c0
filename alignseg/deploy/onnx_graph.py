"""Writing an eval network to an ONNX graph (no checks): the step every export and exported runtime shares.

The graph has one input ``image`` (N×3×H×W float32) and one output ``logits`` (N×C×H×W). The TorchScript-
based ("legacy") exporter with opset 17 is the default: with alignseg's export-safe ops (flow-warp grid
and adaptive pooling built from shapes) it exports dynamic H/W for every zoo model. The dynamo exporter
(``exporter="dynamo"``, opset ≥ 18) is the alternative.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from .extras import require
from .fold import fold_batchnorm

DEFAULT_OPSET = 17
EXPORTERS = ("legacy", "dynamo")
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


def prepare_for_export(model: nn.Module) -> nn.Module:
    """An eval copy of ``model`` for deployment: deep-supervision heads removed, BatchNorm folded."""
    model = copy.deepcopy(model).eval()
    if hasattr(model, "aux_heads"):
        model.aux_heads = nn.ModuleList()
    return fold_batchnorm(model)


def _example(model: nn.Module, size: tuple[int, int], batch: int) -> Tensor:
    channels = getattr(getattr(model, "backbone", None), "in_channels", 3)
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, channels, *size, generator=generator)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    size: tuple[int, int] = (1024, 2048),
    opset: int | None = None,
    dynamic: bool = True,
    exporter: str = "legacy",
    metadata: dict[str, str] | None = None,
) -> Path:
    """Export ``model`` (already prepared: eval, folded) as it is to an ONNX file; no parity check.

    The graph has one input ``image`` (N×3×H×W float32) and one output ``logits`` (N×C×H×W); with
    ``dynamic`` N, H and W are symbolic, else fixed at batch 1 and ``size``. ``metadata`` goes into the
    model's ``metadata_props``.
    """
    onnx = require("onnx")
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}: choose from {', '.join(EXPORTERS)}")
    if opset is None:
        opset = DEFAULT_OPSET if exporter == "legacy" else 18
    if exporter == "dynamo" and opset < 18:
        raise ValueError(f"the dynamo exporter needs opset 18 or later (got {opset})")
    if exporter == "dynamo":
        require("onnxscript")
    model = model.eval()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".alignseg-export-", dir=target.parent) as folder:
        temporary = Path(folder) / target.name
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            if exporter == "legacy":
                axes = {0: "batch", 2: "height", 3: "width"}
                torch.onnx.export(
                    model, (_example(model, size, 1),), os.fspath(temporary), dynamo=False, opset_version=opset,
                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
                    dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes} if dynamic else None,
                )
            else:
                # the dynamo exporter specialises a batch of 1; a batch of 2 keeps N symbolic
                dims = torch.export.Dim.AUTO
                program = torch.onnx.export(
                    model, (_example(model, size, 2 if dynamic else 1),), dynamo=True, opset_version=opset,
                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                    dynamic_shapes=({0: dims, 2: dims, 3: dims},) if dynamic else None,
                )
                program.save(os.fspath(temporary))
        proto = onnx.load(os.fspath(temporary))
        if metadata:
            onnx.helper.set_model_props(proto, {str(k): str(v) for k, v in metadata.items()})
        onnx.checker.check_model(proto)
        onnx.save(proto, os.fspath(temporary))
        os.replace(temporary, target)
    return target
