"""iSeg's SemanticFPN (SFPN) and HFGD's U-SFPN (spec fapn_hfgd.md 2.4), as one decoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from ..ops.cae import FCNTop
from ..ops.conv import ConvBNAct
from ..ops.resize import resize_like
from .base import Decoder, DecoderFeatures


def double_size(size: Sequence[int] | torch.Size) -> tuple[int, int]:
    """The ×2 size of an align-corners resize: ``2·s − 1`` keeps the corners and halves the spacing
    (129 → 257 for a 513 input, the OS2 map of spec 2.4)."""
    return (2 * size[0] - 1, 2 * size[1] - 1)


class SemanticFPNDecoder(Decoder):
    """FPN (laterals, top-down sums, no output convs) + semantic head + 1×1 end conv + classifier.

    The FPN's top is ``top(C5)``: CAR's FCN head (``"fcn"``: 3×3 512 + 1×1 ``channels``, the SFPN
    baseline's "Identity") or nothing (``"none"``: the top map passes unchanged, so it must already have
    ``channels`` channels — HFGM feeds its encoder's output there). Laterals are Conv+BN+ReLU with
    ``lateral_kernel`` (1: SFPN, 3: U-SFPN). Level i (0 = stride 4) gets max(1, i) 3×3 Conv+BN+ReLU
    blocks, each followed by a bilinear resize (align_corners=True) to the next finer level; the levels are
    summed and a 1×1 ``end_conv`` follows. ``output_stride=2`` (U-SFPN OS2) gives every level one more
    block at stride 4 followed by a ×2 resize, so the sum, end conv and classifier run at stride 2.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 256,
        lateral_kernel: Literal[1, 3] = 1,
        output_stride: Literal[2, 4] = 4,
        top: Literal["fcn", "none"] = "fcn",
    ) -> None:
        super().__init__()
        if output_stride not in (2, 4):
            raise ValueError(f"semantic FPN output_stride must be 2 or 4, got {output_stride!r}")
        if lateral_kernel not in (1, 3):
            raise ValueError(f"semantic FPN lateral_kernel must be 1 or 3, got {lateral_kernel!r}")
        if top == "fcn":
            self.top: nn.Module | None = FCNTop(in_channels[-1], channels)
        elif top == "none":
            if in_channels[-1] != channels:
                raise ValueError(f"semantic FPN with top='none' needs a {channels}-channel top map, got "
                                 f"{in_channels[-1]}")
            self.top = None
        else:
            raise ValueError(f"semantic FPN top must be 'fcn' or 'none', got {top!r}")
        self.output_stride = output_stride
        self.feature_channels = channels
        self.laterals = nn.ModuleList(ConvBNAct(c, channels, lateral_kernel) for c in in_channels[:-1])
        extra = 1 if output_stride == 2 else 0
        self.heads = nn.ModuleList(
            nn.ModuleList(ConvBNAct(channels, channels, 3) for _ in range(max(1, i) + extra))
            for i in range(len(in_channels))
        )
        self.end_conv = ConvBNAct(channels, channels, 1)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        x = features[-1] if self.top is None else self.top(features[-1])[0]
        pyramid = [x]
        for i in reversed(range(len(self.laterals))):
            lateral = self.laterals[i](features[i])
            x = resize_like(x, lateral.shape[-2:]) + lateral
            pyramid.insert(0, x)
        sizes = [p.shape[-2:] for p in pyramid]
        out = None
        for i, (x, blocks) in enumerate(zip(pyramid, self.heads, strict=True)):
            for j, block in enumerate(blocks):
                x = block(x)
                if i - 1 - j >= 0:  # the extra OS2 block (last) stays at stride 4
                    x = resize_like(x, sizes[i - 1 - j])
            if self.output_stride == 2:
                x = resize_like(x, double_size(sizes[0]))
            out = x if out is None else out + x
        return DecoderFeatures(self.end_conv(out), [], [])
