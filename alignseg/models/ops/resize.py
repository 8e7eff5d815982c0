"""Resizing and pooling helpers with the released SFNet conventions, safe to export at any input size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def is_exporting() -> bool:
    """True while the model is traced or exported (shape-dependent Python branches must be avoided)."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()


def resize_like(x: Tensor, size: tuple[int, int] | torch.Size, *, align_corners: bool = True) -> Tensor:
    """Bilinear resize to ``size``, by default with ``align_corners=True`` (every resize of the released
    SFNet code; detectron2-based models such as FaPN use ``False``).

    Same-size resizes are skipped in eager mode; while exporting the resize is always recorded (it is an
    exact identity at equal sizes), so the graph does not depend on the export size.
    """
    if not is_exporting() and tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


def _pooling_matrix(length: int | Tensor, bins: int, like: Tensor) -> Tensor:
    """``bins × length`` averaging matrix of adaptive pooling along one axis, built from the length."""
    index = torch.arange(bins, device=like.device).unsqueeze(1)
    start = torch.div(index * length, bins, rounding_mode="floor")
    end = torch.div((index + 1) * length + bins - 1, bins, rounding_mode="floor")
    position = torch.arange(length, device=like.device).unsqueeze(0)
    inside = (position >= start) & (position < end)
    return inside.to(like.dtype) / (end - start).to(like.dtype)


def adaptive_avg_pool2d(x: Tensor, bins: int) -> Tensor:
    """``F.adaptive_avg_pool2d(x, bins)``; while exporting, the same average as two matrix products.

    The legacy ONNX exporter cannot export adaptive pooling with a dynamic input size and the dynamo
    exporter freezes the export size (silently wrong elsewhere); the matrix form is built from the
    input shape, so the exported graph is right at every size.
    """
    if not is_exporting():
        return F.adaptive_avg_pool2d(x, bins)
    rows = _pooling_matrix(x.shape[-2], bins, x)
    cols = _pooling_matrix(x.shape[-1], bins, x)
    return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))
