"""SFNet's aligned FPN decoder (released ``UperNetAlignHead``) and its FPN+PPM baseline."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..ops.conv import ConvBNAct
from ..ops.fam import FlowAlignmentModule
from ..ops.ppm import PyramidPoolingModule
from ..ops.resize import resize_like
from .base import Decoder, DecoderFeatures


class AlignedFPNDecoder(Decoder):
    """PPM on the coarsest map, then a top-down path where each coarser map is aligned to the next lateral.

    Released wiring (spec sfnet.md 3.2): ``f = PPM(F_last)``; for each finer level i (coarse → fine)
    ``lat = lateral_i(F_i)``, ``f = lat + align_i(lat, f)``, ``P_i = output_i(f)`` (the top-down path
    carries ``f``, not ``P_i``); the P_i and the PPM output are resized to the finest level,
    concatenated fine → coarse and fused by a 3×3 conv-BN-ReLU and a 1×1 classifier.

    ``aligned_levels`` lists the lateral indices (0 = finest) that get a FAM; the others use bilinear
    upsampling (align_corners=True). ``()`` gives the FPN+PPM baseline (released ``UperNetHead``).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 128,
        aligned_levels: Sequence[int] | None = None,
        ppm_bins: Sequence[int] = (1, 2, 3, 6),
    ) -> None:
        super().__init__()
        num_laterals = len(in_channels) - 1
        if num_laterals < 1:
            raise ValueError(f"the aligned FPN decoder needs at least 2 feature maps, got {len(in_channels)}")
        aligned = set(range(num_laterals) if aligned_levels is None else aligned_levels)
        if not aligned <= set(range(num_laterals)):
            raise ValueError(f"aligned_levels {sorted(aligned)} must be lateral indices in 0..{num_laterals - 1}")
        self.ppm = PyramidPoolingModule(in_channels[-1], channels, ppm_bins)
        self.laterals = nn.ModuleList(ConvBNAct(c, channels, 1, bias=True) for c in in_channels[:-1])
        self.aligners = nn.ModuleDict({str(i): FlowAlignmentModule(channels) for i in sorted(aligned)})
        self.outputs = nn.ModuleList(ConvBNAct(channels, channels, 3) for _ in range(num_laterals))
        self.fuse = ConvBNAct(len(in_channels) * channels, channels, 3)
        self.feature_channels = channels
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        top = self.ppm(features[-1])
        f = top
        pyramid: list[Tensor] = []
        sums: list[Tensor] = []
        flows: list[Tensor] = []
        for i in reversed(range(len(self.laterals))):
            lateral = self.laterals[i](features[i])
            if str(i) in self.aligners:
                aligned, flow = self.aligners[str(i)](lateral, f)
                flows.append(flow)
            else:
                aligned = resize_like(f, lateral.shape[-2:])
            f = lateral + aligned
            sums.append(f)
            pyramid.insert(0, self.outputs[i](f))
        pyramid.append(top)
        size = pyramid[0].shape[-2:]
        fused = self.fuse(torch.cat([resize_like(p, size) for p in pyramid], dim=1))
        return DecoderFeatures(fused, sums, flows)
