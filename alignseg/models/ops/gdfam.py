"""SFNet-Lite's Gated Dual Flow Alignment Module (GD-FAM): two warps mixed by a learned gate."""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .flow_warp import flow_warp
from .resize import resize_like

GateKind = Literal["pooled", "conv"]


class GatedAlignment(NamedTuple):
    fused: Tensor
    flow: Tensor
    gate: Tensor


class GatedDualFlowAlignmentModule(nn.Module):
    """Warp both the coarse and the fine feature onto the fine grid and blend them with a gate.

    As released (spec sfnet.md 3.4): a 4-channel flow is predicted from ``cat[high, low]`` projections;
    channels 0:2 warp the original coarse feature, 2:4 warp the original fine feature; the gate weights
    the warped *coarse* (semantic) feature: ``fused = g·warp(high) + (1-g)·warp(low)``.

    ``gate="pooled"`` (released ``spatial_atten``, SFNet-Lite-R18): 3×3 conv on the channel means and
    maxima ``[mean(h), mean(low), max(h), max(low)]`` of the projected high and the *unprojected* low.
    ``gate="conv"`` (released ``spatial``, the STDC ``_SFV2`` factories): 3×3 conv on ``cat[h, l]``.
    """

    def __init__(self, channels: int, projected_channels: int | None = None, gate: GateKind = "pooled") -> None:
        super().__init__()
        if gate not in ("pooled", "conv"):
            raise ValueError(f"gate must be 'pooled' or 'conv', got {gate!r}")
        projected = projected_channels or channels // 2
        self.gate_kind = gate
        self.project_high = nn.Conv2d(channels, projected, 1, bias=False)
        self.project_low = nn.Conv2d(channels, projected, 1, bias=False)
        self.flow_conv = nn.Conv2d(2 * projected, 4, 3, padding=1, bias=False)
        gate_inputs = 4 if gate == "pooled" else 2 * projected
        self.gate_conv = nn.Conv2d(gate_inputs, 1, 3, padding=1, bias=False)

    def forward(self, low: Tensor, high: Tensor) -> GatedAlignment:
        """Return the fused feature on the grid of ``low``, the 4-channel flow and the gate."""
        high_projected = resize_like(self.project_high(high), low.shape[-2:])
        low_projected = self.project_low(low)
        flow = self.flow_conv(torch.cat([high_projected, low_projected], dim=1))
        high_warped = flow_warp(high, flow[:, 0:2])
        low_warped = flow_warp(low, flow[:, 2:4])
        if self.gate_kind == "pooled":
            gate_input = torch.cat(
                [
                    high_projected.mean(dim=1, keepdim=True),
                    low.mean(dim=1, keepdim=True),
                    high_projected.amax(dim=1, keepdim=True),
                    low.amax(dim=1, keepdim=True),
                ],
                dim=1,
            )
        else:
            gate_input = torch.cat([high_projected, low_projected], dim=1)
        gate = torch.sigmoid(self.gate_conv(gate_input))
        fused = gate * high_warped + (1 - gate) * low_warped
        return GatedAlignment(fused, flow, gate)
