"""Evaluation over a dataset: streaming confusion matrix, whole or sliding-window inference, multi-scale
and flip with logit averaging (spec sfnet.md 4.6). Plain PyTorch; used by validation during training,
``alignseg eval`` and ``alignseg demo``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ..evaluation import ConfusionMatrix, SegmentationMetrics, multi_scale_inference
from .config import EvalConfig

__all__ = ["evaluate", "predict_logits"]


def predict_logits(model: nn.Module, image: Tensor, config: EvalConfig) -> Tensor:
    """Logits ``N×K×H×W`` of an eval-mode segmentor for ``image`` with the inference settings of ``config``,
    resized with the model's ``align_corners``."""
    window = config.window if config.window is None or isinstance(config.window, int) else tuple(config.window)
    return multi_scale_inference(
        model,
        image,
        scales=tuple(config.scales),
        flip=config.flip,
        mode=config.mode,
        window=window,
        overlap=config.overlap,
        align_corners=model.align_corners,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[dict],
    num_classes: int,
    config: EvalConfig,
    *,
    device: torch.device | str = "cpu",
    ignore_index: int = 255,
    progress: bool = False,
) -> SegmentationMetrics:
    """Metrics of ``model`` over ``batches`` (dicts with ``image`` and ``label``), summed over ranks when
    torch.distributed is initialised (each rank giving its own shard)."""
    model.eval()
    confusion = ConfusionMatrix(num_classes, ignore_index)
    total = len(batches) if hasattr(batches, "__len__") else None
    start = last_report = time.perf_counter()
    for i, batch in enumerate(batches, 1):
        image = batch["image"].to(device, non_blocking=True)
        label = batch["label"].to(device, non_blocking=True)
        confusion.update(predict_logits(model, image, config).argmax(dim=1), label)
        now = time.perf_counter()
        if progress and (now - last_report > 10 or i == total):
            last_report = now
            of = f"/{total}" if total else ""
            print(f"  evaluated {i}{of} images ({now - start:.0f} s)", file=sys.stderr, flush=True)
    confusion.all_reduce()
    return confusion.compute()
