"""Evaluation over a dataset: streaming confusion matrix, whole or sliding-window inference, multi-scale
and flip with logit averaging (spec sfnet.md 4.6). Plain PyTorch; used by validation during training,
``alignseg eval`` and ``alignseg demo``."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from ..evaluation import ConfusionMatrix, SegmentationMetrics, multi_scale_inference
from .config import EvalConfig

__all__ = ["evaluate", "predict_logits"]


def predict_logits(model: nn.Module, image: Tensor, config: EvalConfig, size: Sequence[int] | None = None) -> Tensor:
    """Logits ``N×K×H×W`` of an eval-mode segmentor for ``image`` with the inference settings of ``config``,
    resized with the model's ``align_corners``; ``size`` (the label's ``H×W``): logits of another size are
    resized to it (``eval.score_at: original``, as mmsegmentation restores predictions to the original image).
    """
    window = config.window if config.window is None or isinstance(config.window, int) else tuple(config.window)
    logits = multi_scale_inference(
        model,
        image,
        scales=tuple(config.scales),
        flip=config.flip,
        mode=config.mode,
        window=window,
        overlap=config.overlap,
        align_corners=model.align_corners,
    )
    if size is not None and tuple(logits.shape[-2:]) != tuple(size):
        logits = torch.nn.functional.interpolate(logits, size=tuple(size), mode="bilinear",
                                                 align_corners=model.align_corners)
    return logits


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
    sources: Sequence[str] = (),
) -> SegmentationMetrics:
    """Metrics of ``model`` over ``batches`` (dicts with ``image`` and ``label``), summed over ranks when
    torch.distributed is initialised (each rank giving its own shard).

    With ``sources`` (a merged dataset's ``sources``), batches carry each image's ``source`` name and the
    result's ``by_source`` holds one confusion matrix's metrics per source besides the merged ones.
    """
    model.eval()
    confusion = ConfusionMatrix(num_classes, ignore_index)
    per_source = {name: ConfusionMatrix(num_classes, ignore_index) for name in sources}
    total = len(batches) if hasattr(batches, "__len__") else None
    start = last_report = time.perf_counter()
    for i, batch in enumerate(batches, 1):
        image = batch["image"].to(device, non_blocking=True)
        label = batch["label"].to(device, non_blocking=True)
        prediction = predict_logits(model, image, config, size=label.shape[-2:]).argmax(dim=1)
        confusion.update(prediction, label)
        for k, name in enumerate(batch.get("source", ()) if per_source else ()):
            per_source[name].update(prediction[k], label[k])
        now = time.perf_counter()
        if progress and (now - last_report > 10 or i == total):
            last_report = now
            of = f"/{total}" if total else ""
            print(f"  evaluated {i}{of} images ({now - start:.0f} s)", file=sys.stderr, flush=True)
    confusion.all_reduce()
    for matrix in per_source.values():  # the same order on every rank
        matrix.all_reduce()
    by_source = {name: matrix.compute() for name, matrix in per_source.items()}
    return dataclasses.replace(confusion.compute(), by_source=by_source)
