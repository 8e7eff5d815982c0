"""CAR's class-aware regularisation losses (spec fapn_hfgd.md 2.3, exact from the released TF code).

The losses read the CAE's ``linear_conv`` output X (N×D×h×w) and the labels resized to h×w with TF's
align-corners nearest sampling. Class centres are batch-level and, under DDP, global: the per-class
sums and counts are all-reduced (differentiably) over the process group. L_intra and L_c2p are squared
means over the local batch; every rank computes the same global L_c2c.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributed.nn.functional import all_reduce

from .criterion import LossContext, loss_input, register_loss_term

EPSILON = 1e-7  # keras.backend.epsilon(): the clip of the per-class and per-pixel inter-class losses
INTRA_FLOOR = 1e-5


def align_corners_nearest(labels: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """``tf.compat.v1.image.resize(labels, size, NEAREST, align_corners=True)`` of N×H×W labels.

    Output index i reads source index ``round(i · (H_in − 1) / (H_out − 1))`` (fp32, halves away from
    zero), so a 513 crop at stride 32 picks ``labels[:, ::32, ::32]``.
    """

    def index(n_in: int, n_out: int) -> Tensor:
        scale = torch.tensor((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0, dtype=torch.float32,
                             device=labels.device)
        source = torch.floor(torch.arange(n_out, dtype=torch.float32, device=labels.device) * scale + 0.5).long()
        return source.clamp(max=n_in - 1)

    rows, cols = index(labels.shape[-2], size[0]), index(labels.shape[-1], size[1])
    return labels[..., rows, :][..., cols]


class ClassCentres(NamedTuple):
    """Per-class feature centres (K×D, zero for a class with no pixel) and the pixel count per class."""

    centres: Tensor
    counts: Tensor


def class_centres(x: Tensor, one_hot: Tensor, *, global_batch: bool = True) -> ClassCentres:
    """Batch-level centres of ``x`` (N×P×D) under ``one_hot`` (N×P×K) in fp32, divide-no-nan.

    With ``global_batch`` and an initialised process group the sums (differentiably) and counts are
    all-reduced first, as TF's replica all-reduce does.
    """
    sums = torch.einsum("npk,npd->kd", one_hot, x)
    counts = one_hot.sum(dim=(0, 1))
    if global_batch and dist.is_available() and dist.is_initialized():
        sums = all_reduce(sums)
        counts = counts.clone()
        dist.all_reduce(counts)
    centres = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], torch.zeros_like(sums))
    return ClassCentres(centres, counts)


def _thresholded_excess(relation: Tensor, others: Tensor, threshold: float) -> Tensor:
    """Σ over the other classes of max(relation − threshold, 0), clipped to [ε, 1 − ε]."""
    excess = torch.where(relation * others > threshold, relation * others - threshold, torch.zeros_like(relation))
    return excess.sum(dim=-1).clamp(EPSILON, 1 - EPSILON)


def car_losses(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    ignore_index: int = 255,
    global_centres: bool = True,
    mask_absent: bool = False,
    c2c_threshold: float = 0.5,
    c2p_threshold: float = 0.25,
) -> dict[str, Tensor]:
    """CAR's three losses ``{"intra", "c2c", "c2p"}`` of ``features`` (N×D×h×w) under ``labels`` (N×H×W).

    ``mask_absent`` restricts the inter-class losses to the classes present in the (global) batch, with
    thresholds over their number; the released code includes absent (zero) centres, the default.
    """
    n, d, h, w = features.shape
    labels = align_corners_nearest(labels, (h, w)).reshape(n, h * w)
    valid = (labels != ignore_index) & (labels >= 0) & (labels < num_classes)
    one_hot = F.one_hot(torch.where(valid, labels, 0), num_classes).float() * valid[..., None]
    x = features.float().flatten(2).transpose(1, 2)  # N, P, D
    centres, counts = class_centres(x, one_hot, global_batch=global_centres)
    fixed = centres.detach()

    diff = (torch.matmul(one_hot, fixed) - x).abs() * valid[..., None]
    intra = diff.mean().square().clamp(min=INTRA_FLOOR)

    if mask_absent:  # only the classes present in the batch (a device sync to count them)
        present = counts > 0
        k = int(present.sum())
        query, key, own = centres[present], fixed[present], one_hot[..., present]
    else:  # every class: no boolean indexing, no sync on the training step
        k, query, key, own = len(counts), centres, fixed, one_hot
    if k < 2:
        zero = x.sum() * 0.0
        return {"intra": intra, "c2c": zero, "c2p": zero}
    scale = 1.0 / math.sqrt(d)

    relation = torch.softmax(torch.matmul(query, key.t()) * scale, dim=-1)
    c2c = _thresholded_excess(relation, 1 - torch.eye(k, device=x.device), c2c_threshold / (k - 1))
    c2c = c2c.mean().square()

    # own: N, P, k (all zero for ignored pixels: every class counts as "other")
    energy = torch.matmul(x, key.t())
    energy = energy * (1 - own) + key.square().sum(dim=-1) * own
    relation = torch.softmax(energy * scale, dim=-1)
    c2p = _thresholded_excess(relation, 1 - own, c2p_threshold / (k - 1)).mean().square()
    return {"intra": intra, "c2c": c2c, "c2p": c2p}


@register_loss_term("car")
class CARLoss(nn.Module):
    """CAR's three losses as a criterion term (parts ``car_intra``, ``car_c2c``, ``car_c2p``) on the features
    a model returns as ``loss_inputs["car_features"]`` (HFGD's CAE ``linear_conv`` output)."""

    parts = ("car_intra", "car_c2c", "car_c2p")

    def __init__(self, context: LossContext, *, input_name: str = "car_features", global_centres: bool = True,
                 mask_absent: bool = False) -> None:
        super().__init__()
        self.num_classes, self.ignore_index = context.num_classes, context.ignore_index
        self.input_name, self.global_centres, self.mask_absent = input_name, global_centres, mask_absent

    def forward(self, outputs: Mapping[str, Any], labels: Tensor) -> dict[str, Tensor]:
        features = loss_input(outputs, self.input_name, self)
        losses = car_losses(features, labels, self.num_classes, ignore_index=self.ignore_index,
                            global_centres=self.global_centres, mask_absent=self.mask_absent)
        return {f"car_{name}": value for name, value in losses.items()}
