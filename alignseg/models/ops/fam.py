"""SFNet's Flow Alignment Module (FAM): warp a coarse feature onto a finer lateral's grid."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .flow_warp import flow_warp
from .resize import resize_like


class FlowAlignmentModule(nn.Module):
    """Predict a semantic flow from a fine lateral and a coarse feature, then warp the coarse feature.

    As released (spec sfnet.md 3.3): both inputs are projected to ``channels // 2`` by bias-free 1×1
    convs (the coarse one at its own resolution, then upsampled), one bias-free 3×3 conv on
    ``cat[high, low]`` predicts the 2-channel flow on the lateral's grid, and the *original* coarse
    feature is sampled there, which performs the upsampling.
    """

    def __init__(self, channels: int, projected_channels: int | None = None) -> None:
        super().__init__()
        projected = projected_channels or channels // 2
        self.project_high = nn.Conv2d(channels, projected, 1, bias=False)
        self.project_low = nn.Conv2d(channels, projected, 1, bias=False)
        self.flow_conv = nn.Conv2d(2 * projected, 2, 3, padding=1, bias=False)

    def predict_flow(self, low: Tensor, high: Tensor) -> Tensor:
        """The flow (N×2×H×W on the grid of ``low``) that aligns ``high`` to ``low``."""
        high_projected = resize_like(self.project_high(high), low.shape[-2:])
        return self.flow_conv(torch.cat([high_projected, self.project_low(low)], dim=1))

    def forward(self, low: Tensor, high: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``high`` warped onto the grid of ``low`` and the flow used."""
        flow = self.predict_flow(low, high)
        return flow_warp(high, flow), flow
