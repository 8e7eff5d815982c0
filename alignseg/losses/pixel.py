"""Pixel-wise segmentation losses: cross-entropy, OHEM as released with SFNet, the SFNet paper's
"hardest 10% of pixels" variant, focal loss and Dice loss (HFGD Table 10's "stronger settings").

Every criterion takes logits ``N×C×h×w`` and labels ``N×H×W`` (int64, ``ignore_index`` = ignore) and
resizes the logits to the label size first when they differ, bilinearly with the model's convention
``align_corners`` (``alignseg.losses.build_criterion`` passes ``model.align_corners``; True, every resize
of the released SFNet code, is the default of the classes used on their own). A batch without a single
valid pixel gives a loss of zero (not NaN) that is still connected to the graph.

Every loss takes optional class weights ``weight`` (one per class). The pixel-averaged losses (CE, OHEM,
hardest fraction, focal) average ``w[label] · loss`` over the pixels they keep, divided by the sum of
``w[label]`` over those pixels (``F.cross_entropy``'s weighted mean); the weights never change *which*
pixels OHEM and the hardest fraction keep (hardness is judged on the unweighted prediction). Dice weighs
its per-class terms.
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
    "DiceLoss",
    "FocalLoss",
    "HardestFractionCrossEntropy",
    "OhemCrossEntropy",
    "PixelLoss",
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


class PixelLoss(nn.Module):
    """Base of the pixel losses: the ignore index, optional class weights and the resize convention."""

    weight: Tensor | None

    def __init__(self, ignore_index: int = 255, weight: Tensor | Sequence[float] | None = None, *,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        class_weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
        if class_weight is not None and (class_weight.dim() != 1 or bool((class_weight < 0).any())):
            raise ValueError(f"class weights must be a list of non-negative numbers, got {weight!r}")
        self.register_buffer("weight", class_weight, persistent=False)

    def _resized(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = resize_to_label(logits, labels, align_corners=self.align_corners)
        if self.weight is not None and self.weight.numel() != logits.shape[1]:
            raise ValueError(f"{self.weight.numel()} class weights for logits with {logits.shape[1]} classes")
        return logits

    def _weighted_mean(self, pixel_losses: Tensor, labels: Tensor, kept: Tensor) -> Tensor:
        """``Σ_kept w[label] · loss / Σ_kept w[label]`` (w = 1 without class weights); 0 if nothing is kept."""
        weights = kept.to(pixel_losses.dtype)
        if self.weight is not None:
            weights = weights * self.weight.to(pixel_losses.dtype)[labels.where(kept, 0)]
        return _safe_mean(torch.where(kept, pixel_losses * weights, 0.0).sum(), weights.sum())

    def extra_repr(self) -> str:
        weighted = self.weight is not None
        return f"ignore_index={self.ignore_index}, weighted={weighted}, align_corners={self.align_corners}"


class CrossEntropy(PixelLoss):
    """Pixel cross-entropy averaged over the non-ignored pixels (weighted by ``weight[label]`` if given)."""

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = self._resized(logits, labels)
        pixel_losses = F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction="none")
        return self._weighted_mean(pixel_losses, labels, labels != self.ignore_index)


class OhemCrossEntropy(PixelLoss):
    """Online hard example mining exactly as released with SFNet (``loss.OhemCrossEntropy2dTensor``).

    Per call: ``p`` = softmax probability of the ground-truth class of each pixel (1 for ignored
    pixels). With fewer than ``min_kept`` valid pixels this is plain cross-entropy over the valid
    pixels. Otherwise ``p`` is sorted ascending and ``t = sorted_p[min(len(p), min_kept) - 1]``, the
    ``min_kept``-th smallest probability counted from 1 (always a valid pixel's, as there are at least
    ``min_kept`` of them and ignored pixels sort last); the loss is the cross-entropy averaged over the
    valid pixels with ``p <= max(thresh, t)``: every pixel with ``p <= thresh`` plus at least the
    ``min_kept`` hardest (more when probabilities tie with ``t``). ``min_kept=0`` keeps only
    ``p <= thresh``. The selection is not differentiated; dropped pixels get zero gradient. Class
    weights weigh the mean over the kept pixels (the released ``CrossEntropyLoss(weight=...)``).
    """

    def __init__(self, thresh: float = 0.7, min_kept: int = 100_000, ignore_index: int = 255,
                 weight: Tensor | Sequence[float] | None = None, *, align_corners: bool = True) -> None:
        super().__init__(ignore_index, weight, align_corners=align_corners)
        if min_kept < 0:
            raise ValueError(f"min_kept must be >= 0, got {min_kept}")
        self.thresh = float(thresh)
        self.min_kept = int(min_kept)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = self._resized(logits, labels)
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
        return self._weighted_mean(pixel_losses, labels, kept)

    def extra_repr(self) -> str:
        return f"thresh={self.thresh}, min_kept={self.min_kept}, {super().extra_repr()}"


class HardestFractionCrossEntropy(PixelLoss):
    """The SFNet paper's OHEM: cross-entropy averaged over the ``fraction`` of valid pixels with the
    largest loss, ``k = max(1, round(fraction · valid pixels))`` of them, chosen per call (on the
    unweighted loss; class weights then weigh the mean over the chosen pixels)."""

    def __init__(self, fraction: float = 0.1, ignore_index: int = 255,
                 weight: Tensor | Sequence[float] | None = None, *, align_corners: bool = True) -> None:
        super().__init__(ignore_index, weight, align_corners=align_corners)
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction = float(fraction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = self._resized(logits, labels)
        pixel_losses = F.cross_entropy(logits, labels, ignore_index=self.ignore_index, reduction="none")
        valid = labels != self.ignore_index
        valid_losses = pixel_losses[valid]
        if valid_losses.numel() == 0:
            return pixel_losses.sum()
        k = max(1, round(self.fraction * valid_losses.numel()))
        hardest, index = valid_losses.topk(k, sorted=False)
        if self.weight is None:
            return hardest.mean()
        weights = self.weight.to(hardest.dtype)[labels[valid][index]]
        return _safe_mean((hardest * weights).sum(), weights.sum())

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}, {super().extra_repr()}"


class FocalLoss(PixelLoss):
    """Focal loss (Lin et al. 2017): ``(1 − p_t)^gamma · (−log p_t)`` per pixel, ``p_t`` the softmax
    probability of the label, averaged like the cross-entropy (the class weights play the paper's
    ``alpha_t``); ``gamma = 0`` is the cross-entropy."""

    def __init__(self, gamma: float = 2.0, ignore_index: int = 255, weight: Tensor | Sequence[float] | None = None,
                 *, align_corners: bool = True) -> None:
        super().__init__(ignore_index, weight, align_corners=align_corners)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = self._resized(logits, labels)
        valid = labels != self.ignore_index
        log_p = logits.log_softmax(dim=1).gather(1, labels.where(valid, 0).unsqueeze(1)).squeeze(1)
        pixel_losses = -((1 - log_p.exp()) ** self.gamma) * log_p
        return self._weighted_mean(pixel_losses, labels, valid)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, {super().extra_repr()}"


class DiceLoss(PixelLoss):
    """Soft multi-class Dice loss (Milletari et al. 2016) over the batch's non-ignored pixels.

    With softmax probabilities ``p_c`` and one-hot labels ``g_c``, summed over every valid pixel of the
    batch: ``D_c = (2 Σ p_c g_c + smooth) / (Σ p_c^exponent + Σ g_c^exponent + smooth)``; the loss is
    ``Σ_c w_c (1 − D_c) / Σ_c w_c`` (``w = 1`` without class weights). ``exponent = 2`` is the paper's
    squared denominator; ``smooth`` keeps classes absent from both prediction and labels at ``D_c ≈ 1``.
    """

    def __init__(self, smooth: float = 1.0, exponent: float = 2.0, ignore_index: int = 255,
                 weight: Tensor | Sequence[float] | None = None, *, align_corners: bool = True) -> None:
        super().__init__(ignore_index, weight, align_corners=align_corners)
        if smooth < 0 or exponent <= 0:
            raise ValueError(f"Dice needs smooth >= 0 and exponent > 0, got smooth={smooth}, exponent={exponent}")
        self.smooth = float(smooth)
        self.exponent = float(exponent)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        logits = self._resized(logits, labels)
        valid = (labels != self.ignore_index).unsqueeze(1).to(logits.dtype)
        probs = logits.softmax(dim=1) * valid
        truth = F.one_hot(labels.where(labels != self.ignore_index, 0), logits.shape[1]).permute(0, 3, 1, 2)
        truth = truth.to(logits.dtype) * valid
        dims = (0, 2, 3)
        overlap = (probs * truth).sum(dims)
        size = probs.pow(self.exponent).sum(dims) + truth.pow(self.exponent).sum(dims)
        dice = _safe_mean(2 * overlap + self.smooth, size + self.smooth)
        weights = torch.ones_like(dice) if self.weight is None else self.weight.to(dice.dtype)
        return _safe_mean((weights * (1 - dice)).sum(), weights.sum())

    def extra_repr(self) -> str:
        return f"smooth={self.smooth}, exponent={self.exponent}, {super().extra_repr()}"


LOSSES: dict[str, type[PixelLoss]] = {
    "ce": CrossEntropy,
    "dice": DiceLoss,
    "focal": FocalLoss,
    "hardest_fraction": HardestFractionCrossEntropy,
    "ohem": OhemCrossEntropy,
}


def build_loss(name: str, **kwargs: object) -> PixelLoss:
    """Build a pixel loss by name (``LOSSES``: "ce", "ohem", "hardest_fraction", "focal", "dice") with its
    keyword arguments, e.g. ``build_loss("ohem", thresh=0.7, min_kept=100_000)``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}")
    return LOSSES[name](**kwargs)
