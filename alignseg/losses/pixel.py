"""Pixel-wise segmentation losses: cross-entropy, OHEM as released with SFNet and the SFNet paper's
"hardest 10% of pixels" variant.

Every criterion takes logits ``N×C×h×w`` and labels ``N×H×W`` (int64, ``ignore_index`` = ignore) and
resizes the logits to the label size first when they differ, bilinearly with the model's convention
``align_corners`` (``alignseg.losses.build_criterion`` passes ``model.align_corners``; True, every resize
of the released SFNet code, is the default of the classes used on their own). A batch without a single
valid pixel gives a loss of zero (not NaN) that is still connected to the graph.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.ops.resize import resize_like

__all__ = [
    "LOSSES",
    "CrossEntropy",
    "HardestFractionCrossEntropy",
    "OhemCrossEntropy",
    "build_loss",
    "resize_to_label",
]


def resize_to_label(logits: Tensor, labels: Tensor, *, align_corners: bool) -> Tensor:
    """Check that logits ``N×C×h×w`` and labels ``N×H×W`` match, and resize the logits to ``H×W``."""
    if logits.dim() != 4 or labels.dim() != 3 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"expected logits N×C×H×W and labels N×H×W with the same N, got logits {tuple(logits.shape)} "
            f"and labels {tuple(labels.shape)}"
        )
    return resize_like(logits, labels.shape[-2:], align_corners=align_corners)


def _safe_mean(total: Tensor, weight: Tensor) -> Tensor:
    """``total / weight``, but zero instead of 0/0 = NaN when no pixel counts."""
    return total / weight.clamp_min(torch.finfo(weight.dtype).tiny)


class CrossEntropy(nn.Module):
    """Pixel cross-entropy averaged over the non-ignored pixels (weighted by ``weight[label]`` if given)."""

    weight: Tensor | None

    def __init__(self, ignore_index: int = 255, weight: Tensor | Sequence[float] | None = None, *,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        class_weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
        self.register_buffer("weight", class_weight, persistent=False)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = resize_to_label(logits, labels, align_corners=self.align_corners)
        weight = None if self.weight is None else self.weight.to(logits.dtype)
        pixel_losses = F.cross_entropy(
            logits, labels, weight=weight, ignore_index=self.ignore_index, reduction="none"
        )
        valid = labels != self.ignore_index
        pixel_weights = valid.to(pixel_losses.dtype)
        if weight is not None:
            pixel_weights = pixel_weights * weight.to(pixel_losses.dtype)[labels.where(valid, 0)]
        # Like F.cross_entropy(reduction="mean"): the losses (already × weight[label]) over Σ weight[label].
        return _safe_mean(pixel_losses.sum(), pixel_weights.sum())

    def extra_repr(self) -> str:
        weighted = self.weight is not None
        return f"ignore_index={self.ignore_index}, weighted={weighted}, align_corners={self.align_corners}"


class OhemCrossEntropy(nn.Module):
    """Online hard example mining exactly as released with SFNet (``loss.OhemCrossEntropy2dTensor``).

    Per call: ``p`` = softmax probability of the ground-truth class of each pixel (1 for ignored
    pixels). With fewer than ``min_kept`` valid pixels this is plain cross-entropy over the valid
    pixels. Otherwise ``p`` is sorted ascending and ``t = sorted_p[min(len(p), min_kept) - 1]``, the
    ``min_kept``-th smallest probability counted from 1 (always a valid pixel's, as there are at least
    ``min_kept`` of them and ignored pixels sort last); the loss is the cross-entropy averaged over the
    valid pixels with ``p <= max(thresh, t)``: every pixel with ``p <= thresh`` plus at least the
    ``min_kept`` hardest (more when probabilities tie with ``t``). ``min_kept=0`` keeps only
    ``p <= thresh``. The selection is not differentiated; dropped pixels get zero gradient.
    """

    def __init__(self, thresh: float = 0.7, min_kept: int = 100_000, ignore_index: int = 255, *,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.align_corners = align_corners
        if min_kept < 0:
            raise ValueError(f"min_kept must be >= 0, got {min_kept}")
        self.thresh = float(thresh)
        self.min_kept = int(min_kept)
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = resize_to_label(logits, labels, align_corners=self.align_corners)
        pixel_losses = F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction="none")
        kept = labels != self.ignore_index
        num_valid = int(kept.sum())
        if num_valid >= self.min_kept and num_valid > 0:
            with torch.no_grad():
                target = labels.where(kept, 0).unsqueeze(1)
                prob = logits.float().softmax(dim=1).gather(1, target).squeeze(1).masked_fill(~kept, 1.0)
                threshold = torch.tensor(self.thresh, device=prob.device)
                if self.min_kept > 0:
                    # kthvalue(k) is sorted(p)[k - 1]; k = min(len(p), min_kept) as in the released code.
                    k = min(prob.numel(), self.min_kept)
                    threshold = torch.maximum(threshold, prob.flatten().kthvalue(k).values)
                kept = kept & (prob <= threshold)
        return _safe_mean(pixel_losses.where(kept, 0.0).sum(), kept.sum().to(pixel_losses.dtype))

    def extra_repr(self) -> str:
        return (f"thresh={self.thresh}, min_kept={self.min_kept}, ignore_index={self.ignore_index}, "
                f"align_corners={self.align_corners}")


class HardestFractionCrossEntropy(nn.Module):
    """The SFNet paper's OHEM: cross-entropy averaged over the ``fraction`` of valid pixels with the
    largest loss, ``k = max(1, round(fraction · valid pixels))`` of them, chosen per call."""

    def __init__(self, fraction: float = 0.1, ignore_index: int = 255, *, align_corners: bool = True) -> None:
        super().__init__()
        self.align_corners = align_corners
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction = float(fraction)
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = resize_to_label(logits, labels, align_corners=self.align_corners)
        pixel_losses = F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction="none")
        valid_losses = pixel_losses[labels != self.ignore_index]
        if valid_losses.numel() == 0:
            return pixel_losses.sum()
        k = max(1, round(self.fraction * valid_losses.numel()))
        return valid_losses.topk(k, sorted=False).values.mean()

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}, ignore_index={self.ignore_index}, align_corners={self.align_corners}"


LOSSES: dict[str, type[nn.Module]] = {
    "ce": CrossEntropy,
    "hardest_fraction": HardestFractionCrossEntropy,
    "ohem": OhemCrossEntropy,
}


def build_loss(name: str, **kwargs: object) -> nn.Module:
    """Build a pixel criterion by name (``LOSSES``: "ce", "ohem", "hardest_fraction") with its keyword
    arguments, e.g. ``build_loss("ohem", thresh=0.7, min_kept=100_000)``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}")
    return LOSSES[name](**kwargs)
