"""SFNet-Lite's decoder (released ``UperNetAlignHeadV2``): one GD-FAM between stride 4 and the PPM."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..ops.conv import ConvBNAct
from ..ops.gdfam import GatedDualFlowAlignmentModule, GateKind
from ..ops.ppm import PyramidPoolingModule
from ..ops.resize import resize_like
from .base import Decoder, DecoderFeatures


class LiteAlignedDecoder(Decoder):
    """Fuse the finest lateral with the PPM context through one GD-FAM, then add a stride-16 lateral.

    Released wiring (spec sfnet.md 3.4): ``p2 = lateral_low(F_first)``, ``p4 = lateral_mid(F[-2])``
    (stride 16; the stride-8 map is not used), ``fused = GD-FAM(p2, PPM(F_last))``,
    ``logits = classifier(fuse(cat[fused, up(p4)]))`` with a 3×3 conv-BN-ReLU fuse. The released
    model builds a third lateral and a DSN head that are never used; they are not built here.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 128,
        gate: GateKind = "pooled",
        ppm_bins: Sequence[int] = (1, 2, 3, 6),
    ) -> None:
        super().__init__()
        if len(in_channels) < 3:
            raise ValueError(f"the Lite decoder needs at least 3 feature maps, got {len(in_channels)}")
        self.ppm = PyramidPoolingModule(in_channels[-1], channels, ppm_bins)
        self.lateral_low = ConvBNAct(in_channels[0], channels, 1, bias=True)
        self.lateral_mid = ConvBNAct(in_channels[-2], channels, 1, bias=True)
        self.align = GatedDualFlowAlignmentModule(channels, gate=gate)
        self.fuse = ConvBNAct(2 * channels, channels, 3)
        self.feature_channels = channels
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        top = self.ppm(features[-1])
        low = self.lateral_low(features[0])
        mid = self.lateral_mid(features[-2])
        fused, flow, _ = self.align(low, top)
        return DecoderFeatures(self.fuse(torch.cat([fused, resize_like(mid, fused.shape[-2:])], dim=1)), [], [flow])
