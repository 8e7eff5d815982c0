"""Semantic-flow warping in the released SFNet convention, and flows converted to pixels for display.

A flow ``N×2×H×W`` (channel 0 = x, channel 1 = y) lives on an output grid of ``H×W``. The sampling
position of output pixel (i, j) in ``grid_sample`` coordinates is
``(linspace(-1, 1, W)[j] + flow_x / W, linspace(-1, 1, H)[i] + flow_y / H)`` with ``align_corners=True``
and zero padding. One flow unit therefore moves a sample by (W-1)/(2W) output pixels, and zero flow is
bilinear (align_corners) upsampling. Official weights only give official outputs with this convention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _unit_linspace(steps: int | Tensor, device: torch.device) -> Tensor:
    """``torch.linspace(-1, 1, steps)`` bit for bit, built from ``arange`` so tracing keeps it dynamic.

    The kernel computes ``start + step·i`` for the first half and ``end - step·(steps-1-i)`` for the
    second with a float32 step and fused multiply-adds; doing the products in float64 and rounding once
    reproduces that exactly.
    """
    index = torch.arange(steps, device=device, dtype=torch.float64)
    count = steps if isinstance(steps, Tensor) else torch.tensor(steps, device=device)
    step = (2.0 / torch.clamp(count - 1, min=1).to(torch.float32)).to(torch.float64)
    first_half = index < torch.div(count, 2, rounding_mode="floor")
    values = torch.where(first_half, -1.0 + step * index, 1.0 - step * (count - 1 - index))
    return values.to(torch.float32)


def identity_grid(height: int | Tensor, width: int | Tensor, like: Tensor) -> Tensor:
    """The ``1×H×W×2`` (x, y) grid that makes ``grid_sample(align_corners=True)`` an identity resample."""
    xs = _unit_linspace(width, like.device).to(like.dtype)
    ys = _unit_linspace(height, like.device).to(like.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((grid_x, grid_y), dim=-1).unsqueeze(0)


def flow_warp(feature: Tensor, flow: Tensor) -> Tensor:
    """Sample ``feature`` (N×C×h×w, any size) onto the grid of ``flow`` (N×2×H×W), displaced by the flow.

    The normaliser (W, H) is taken from the flow's own shape at run time, never frozen into a constant,
    so traced and exported graphs stay right at every input size. Half-precision inputs (autocast or a
    bf16/fp16 model) are warped in float32: a bf16 grid holds positions to 1/128, several pixels off
    at the widths seen here.
    """
    if feature.dtype in _HALF or flow.dtype in _HALF:
        with torch.autocast(feature.device.type, enabled=False):
            warped = _sample(feature.float(), flow.float())
        if not torch.is_autocast_enabled(feature.device.type):
            warped = warped.to(feature.dtype)  # a half model gets its dtype back; autocast keeps float32
        return warped
    return _sample(feature, flow)


_HALF = (torch.float16, torch.bfloat16)


def _sample(feature: Tensor, flow: Tensor) -> Tensor:
    height, width = flow.shape[-2], flow.shape[-1]
    offset_x = flow[:, 0] / width
    offset_y = flow[:, 1] / height
    grid = identity_grid(height, width, flow) + torch.stack((offset_x, offset_y), dim=-1)
    return F.grid_sample(feature, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def flow_to_pixels(flow: Tensor) -> Tensor:
    """Convert a flow in SFNet units to displacements in output-grid pixels (x, y), for visualisation."""
    height, width = flow.shape[-2], flow.shape[-1]
    scale = flow.new_tensor([(width - 1) / (2 * width), (height - 1) / (2 * height)]).view(1, 2, 1, 1)
    return flow * scale
