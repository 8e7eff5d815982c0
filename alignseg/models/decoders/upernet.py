"""UperNet (Xiao et al., ECCV 2018) as the common toolboxes build it: mmseg's ``UPerHead``, 512 channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..ops.conv import ConvBNAct
from ..ops.ppm import PoolingBranch
from ..ops.resize import resize_like
from .base import Decoder, DecoderFeatures


class UperNetDecoder(Decoder):
    """PPM on the coarsest map, an FPN over the others, and a fusion of every level at the finest stride.

    mmseg ``UPerHead`` wiring: the PPM branches (bins 1, 2, 3, 6) are pool → 1×1 conv-BN-ReLU → resize,
    concatenated *after* the input map and fused by a 3×3 conv-BN-ReLU (the top of the FPN); each finer
    map gets a 1×1 conv-BN-ReLU lateral; top-down, each lateral adds the resized coarser one; 3×3
    conv-BN-ReLU output convs on every level but the top; all levels resized to the finest and
    concatenated fine → coarse; a 3×3 conv-BN-ReLU ``fpn_bottleneck`` gives the features; dropout 0.1 and a
    1×1 classifier give the logits. Every resize is bilinear with ``align_corners`` (False, as mmseg).
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, *, channels: int = 512,
                 pool_scales: Sequence[int] = (1, 2, 3, 6), dropout: float = 0.1, align_corners: bool = False) -> None:
        super().__init__()
        if len(in_channels) < 2:
            raise ValueError(f"UperNet needs at least 2 feature maps, got {len(in_channels)}")
        self.align_corners = align_corners
        self.psp_branches = nn.ModuleList(PoolingBranch(in_channels[-1], channels, b, act=True,
                                                        align_corners=align_corners) for b in pool_scales)
        self.psp_bottleneck = ConvBNAct(in_channels[-1] + len(pool_scales) * channels, channels, 3)
        self.laterals = nn.ModuleList(ConvBNAct(c, channels, 1) for c in in_channels[:-1])
        self.fpn_convs = nn.ModuleList(ConvBNAct(channels, channels, 3) for _ in in_channels[:-1])
        self.fpn_bottleneck = ConvBNAct(len(in_channels) * channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.feature_channels = channels

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        top = features[-1]
        top = self.psp_bottleneck(torch.cat([top, *(branch(top) for branch in self.psp_branches)], dim=1))
        levels = [lateral(f) for lateral, f in zip(self.laterals, features, strict=False)] + [top]
        for i in range(len(levels) - 1, 0, -1):  # top-down, coarse → fine
            levels[i - 1] = levels[i - 1] + self._resize(levels[i], levels[i - 1].shape[-2:])
        outs = [conv(level) for conv, level in zip(self.fpn_convs, levels, strict=False)] + [levels[-1]]
        size = outs[0].shape[-2:]
        fused = self.fpn_bottleneck(torch.cat([self._resize(o, size) for o in outs], dim=1))
        return DecoderFeatures(fused, [], [])

    def classify(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(x))

    def _resize(self, x: Tensor, size: torch.Size) -> Tensor:
        return resize_like(x, size, align_corners=self.align_corners)
