"""Streaming confusion matrix for semantic segmentation and the metrics read from it (IoU, mIoU,
pixel and class accuracy), summed across distributed ranks when needed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["ConfusionMatrix", "SegmentationMetrics"]


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100.0 * value:.2f}"


@dataclass(frozen=True)
class SegmentationMetrics:
    """Metrics of one confusion matrix; per-class values are float64 tensors, NaN where undefined.

    - ``iou[c] = TP / (TP + FP + FN)``: NaN for a class absent from both ground truth and prediction,
      0 for a class only predicted (a false positive) or only in the ground truth (missed).
    - ``miou``: mean IoU over the classes present in the ground truth OR the prediction (nanmean of
      ``iou``), the common convention (mmseg, the released SFNet ``per_class_iu`` + ``nanmean``).
    - ``miou_gt``: mean IoU over the classes present in the ground truth only, so classes that are
      merely predicted do not pull it down; equal to ``miou`` on a full validation set.
    - ``class_accuracy[c] = TP / ground-truth pixels of c`` (NaN when absent from the ground truth);
      ``mean_class_accuracy`` is its nanmean; ``pixel_accuracy`` = correct / valid pixels.
    Scalars are NaN when no pixel was counted. ``by_source`` holds the metrics of each source of a merged
    dataset (UDS: BDD100K, Mapillary, IDD, Cityscapes), whose matrices sum to ``matrix``.
    """

    matrix: Tensor
    iou: Tensor
    class_accuracy: Tensor
    miou: float
    miou_gt: float
    pixel_accuracy: float
    mean_class_accuracy: float
    by_source: dict[str, SegmentationMetrics] = field(default_factory=dict)

    @classmethod
    def from_matrix(cls, matrix: Tensor) -> SegmentationMetrics:
        """Read the metrics from a ``C×C`` matrix (rows = ground truth, columns = prediction)."""
        counts = matrix.detach().to("cpu", torch.float64)
        true_positive = counts.diagonal()
        in_truth = counts.sum(dim=1)
        in_prediction = counts.sum(dim=0)
        iou = true_positive / (in_truth + in_prediction - true_positive)  # 0/0 = NaN: class absent
        class_accuracy = true_positive / in_truth
        return cls(
            matrix=matrix.detach().cpu().clone(),
            iou=iou,
            class_accuracy=class_accuracy,
            miou=iou.nanmean().item(),
            miou_gt=iou[in_truth > 0].mean().item(),
            pixel_accuracy=(true_positive.sum() / counts.sum()).item(),
            mean_class_accuracy=class_accuracy.nanmean().item(),
        )

    @property
    def num_classes(self) -> int:
        return self.iou.numel()

    def _names(self, class_names: Sequence[str] | None) -> list[str]:
        if class_names is None:
            return [str(c) for c in range(self.num_classes)]
        if len(class_names) != self.num_classes:
            raise ValueError(f"got {len(class_names)} class names for {self.num_classes} classes")
        return list(class_names)

    def to_dict(self, class_names: Sequence[str] | None = None) -> dict[str, float]:
        """Flat ``name -> value`` dict for loggers: the summary scalars and ``iou/<class>`` entries."""
        values = {
            "miou": self.miou,
            "miou_gt": self.miou_gt,
            "pixel_accuracy": self.pixel_accuracy,
            "mean_class_accuracy": self.mean_class_accuracy,
        }
        for name, iou in zip(self._names(class_names), self.iou.tolist(), strict=True):
            values[f"iou/{name}"] = iou
        return values

    def format_table(self, class_names: Sequence[str] | None = None) -> str:
        """Per-class IoU and accuracy (in %) followed by the summary rows, as a plain-text table."""
        names = self._names(class_names)
        summary = {
            "mIoU": self.miou,
            "mIoU (classes in GT)": self.miou_gt,
            "pixel accuracy": self.pixel_accuracy,
            "mean class accuracy": self.mean_class_accuracy,
        }
        width = max(len(name) for name in [*names, *summary])
        rule = "-" * (width + 16)
        lines = [f"{'class':<{width}}  {'IoU':>6}  {'Acc':>6}", rule]
        for name, iou, accuracy in zip(names, self.iou.tolist(), self.class_accuracy.tolist(), strict=True):
            lines.append(f"{name:<{width}}  {_percent(iou):>6}  {_percent(accuracy):>6}")
        lines.append(rule)
        lines.extend(f"{label:<{width}}  {_percent(value):>6}" for label, value in summary.items())
        return "\n".join(lines)

    def format_sources_table(self, class_names: Sequence[str] | None = None) -> str:
        """Per-class IoU (in %) of every source in ``by_source`` and of all of them together, then mIoU."""
        names = self._names(class_names)
        columns = [*self.by_source.items(), ("all", self)]
        width = max(len(name) for name in [*names, "mIoU"])
        cells = [max(6, len(source)) for source, _ in columns]
        rule = "-" * (width + sum(c + 2 for c in cells))
        lines = [f"{'class':<{width}}" + "".join(f"  {s:>{c}}" for (s, _), c in zip(columns, cells, strict=True)), rule]
        for k, name in enumerate(names):
            row = "".join(f"  {_percent(m.iou[k].item()):>{c}}" for (_, m), c in zip(columns, cells, strict=True))
            lines.append(f"{name:<{width}}{row}")
        lines.append(rule)
        lines.append(f"{'mIoU':<{width}}" + "".join(f"  {_percent(m.miou):>{c}}"
                                                     for (_, m), c in zip(columns, cells, strict=True)))
        return "\n".join(lines)


class ConfusionMatrix:
    """Streaming ``num_classes × num_classes`` int64 confusion matrix (rows = ground truth, columns =
    prediction) over class maps, skipping pixels whose label is ``ignore_index``."""

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: Tensor, label: Tensor) -> None:
        """Count one batch of predicted and ground-truth class maps, both ``N×H×W`` or ``H×W``."""
        pred, label = torch.as_tensor(pred), torch.as_tensor(label)
        if pred.shape != label.shape:
            raise ValueError(
                f"prediction shape {tuple(pred.shape)} differs from label shape {tuple(label.shape)}"
            )
        if pred.dim() not in (2, 3) or pred.is_floating_point() or label.is_floating_point():
            raise ValueError(
                f"expected integer class maps N×H×W or H×W, got {pred.dtype} {tuple(pred.shape)} and "
                f"{label.dtype} {tuple(label.shape)} (take the argmax of logits over the class dimension)"
            )
        label = label.to(torch.int64)
        pred = pred.to(device=label.device, dtype=torch.int64)
        if self.ignore_index is not None:
            valid = label != self.ignore_index
            label, pred = label[valid], pred[valid]
        for what, values in (("label", label), ("prediction", pred)):
            outside = (values < 0) | (values >= self.num_classes)
            if outside.any():
                bad = torch.unique(values[outside])[:10].tolist()
                ignore = "" if self.ignore_index is None else f" and not the ignore index {self.ignore_index}"
                raise ValueError(f"{what} values {bad} are outside [0, {self.num_classes}){ignore}")
        counts = torch.bincount(
            label.flatten() * self.num_classes + pred.flatten(), minlength=self.num_classes**2
        )
        self.matrix = self.matrix.to(counts.device) + counts.view(self.num_classes, self.num_classes)

    def all_reduce(self, group: Any = None) -> None:
        """Sum the matrices of all ranks in place when torch.distributed is initialised (no-op otherwise).

        Call it once, after the last ``update``: every rank then holds the global counts.
        """
        if not (dist.is_available() and dist.is_initialized()):
            return
        if dist.get_backend(group) == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        else:
            device = torch.device("cpu")
        summed = self.matrix.to(device, copy=True)
        dist.all_reduce(summed, op=dist.ReduceOp.SUM, group=group)
        self.matrix = summed.to(self.matrix.device)

    def compute(self) -> SegmentationMetrics:
        """The metrics of the counts so far (see ``SegmentationMetrics`` for how absent classes count)."""
        return SegmentationMetrics.from_matrix(self.matrix)

    def format_table(self, class_names: Sequence[str] | None = None) -> str:
        """Readable per-class IoU table of the counts so far."""
        return self.compute().format_table(class_names)

    def reset(self) -> None:
        self.matrix = torch.zeros_like(self.matrix)

    def state_dict(self) -> dict[str, Any]:
        return {
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "matrix": self.matrix.cpu().clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        matrix = torch.as_tensor(state["matrix"])
        if state["num_classes"] != self.num_classes or matrix.shape != self.matrix.shape:
            raise ValueError(
                f"state holds a {state['num_classes']}-class matrix of shape {tuple(matrix.shape)}, "
                f"this ConfusionMatrix has {self.num_classes} classes"
            )
        self.ignore_index = state["ignore_index"]
        self.matrix = matrix.to(device=self.matrix.device, dtype=torch.int64).clone()
