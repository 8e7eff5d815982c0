"""Pyramid Pooling Module as used by SFNet's decoders (context at the coarsest level)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .conv import ConvBNAct
from .resize import adaptive_avg_pool2d, resize_like


class PoolingBranch(nn.Module):
    """Adaptive average pool to ``bins×bins`` → 1×1 conv (no bias) → BN (no ReLU, as released SFNet), resized
    back to the input. ``act=True`` adds a ReLU and ``align_corners=False`` resizes as mmseg does (its PPM
    branches and DeepLab's image pooling)."""

    def __init__(self, in_channels: int, out_channels: int, bins: int, *, act: bool = False,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.bins, self.align_corners = bins, align_corners
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.act(self.bn(self.conv(adaptive_avg_pool2d(x, self.bins))))
        return resize_like(pooled, x.shape[-2:], align_corners=self.align_corners)


class PyramidPoolingModule(nn.Module):
    """Concatenate pooled branches (bins 1, 2, 3, 6) with the input and fuse them by a 1×1 conv-BN-ReLU.

    Concatenation order is ``[bin1, bin2, bin3, bin6, x]`` (released order); Dropout2d(0.1) follows, as
    in the released ``PSPModule``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, bins: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(PoolingBranch(in_channels, out_channels, b) for b in bins)
        self.bottleneck = ConvBNAct(in_channels + len(bins) * out_channels, out_channels, 1)
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, x: Tensor) -> Tensor:
        pooled = [branch(x) for branch in self.branches]
        return self.dropout(self.bottleneck(torch.cat([*pooled, x], dim=1)))
