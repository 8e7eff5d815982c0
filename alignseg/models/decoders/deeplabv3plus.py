"""DeepLabV3+ (Chen et al., ECCV 2018) as mmseg builds it: ``DepthwiseSeparableASPPHead``, 512 channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..ops.conv import ConvBNAct
from ..ops.ppm import PoolingBranch
from ..ops.resize import resize_like
from .base import Decoder, DecoderFeatures


class SeparableConvBNAct(nn.Sequential):
    """Depthwise 3×3 conv-BN-ReLU then pointwise 1×1 conv-BN-ReLU (mmseg ``DepthwiseSeparableConvModule``)."""

    def __init__(self, in_channels: int, out_channels: int, *, dilation: int = 1) -> None:
        super().__init__()
        self.depthwise = ConvBNAct(in_channels, in_channels, 3, dilation=dilation, groups=in_channels)
        self.pointwise = ConvBNAct(in_channels, out_channels, 1)


class DeepLabV3PlusDecoder(Decoder):
    """ASPP on the coarsest map, then a decoder that adds a 48-channel projection of the finest map.

    Wiring of mmseg's ``DepthwiseSeparableASPPHead`` (the toolbox baseline, rather than the paper's
    256-channel head): the ASPP concatenates an image-pooling branch (global average → 1×1 conv-BN-ReLU →
    resize) and one branch per rate — a 1×1 conv-BN-ReLU for rate 1, a depthwise-separable 3×3 for the
    others — and fuses them with a plain 3×3 conv-BN-ReLU. The result is resized to the finest map (stride
    4), concatenated after its 1×1 conv-BN-ReLU projection to ``low_level_channels``, and passed through
    two depthwise-separable 3×3 convs: the features; dropout 0.1 and a 1×1 classifier give the logits.
    ``rates`` (1, 6, 12, 18) suit an output-stride-16 trunk (mmseg's (1, 12, 24, 36) are for stride 8).
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, *, channels: int = 512,
                 rates: Sequence[int] = (1, 6, 12, 18), low_level_channels: int = 48, dropout: float = 0.1,
                 align_corners: bool = False) -> None:
        super().__init__()
        if len(in_channels) < 2:
            raise ValueError(f"DeepLabV3+ needs a fine and a coarse feature map, got {len(in_channels)} maps")
        top = in_channels[-1]
        self.align_corners = align_corners
        self.image_pool = PoolingBranch(top, channels, 1, act=True, align_corners=align_corners)
        self.aspp = nn.ModuleList(ConvBNAct(top, channels, 1) if rate == 1 else SeparableConvBNAct(top, channels,
                                                                                                     dilation=rate)
                                  for rate in rates)
        self.aspp_bottleneck = ConvBNAct((len(rates) + 1) * channels, channels, 3)
        self.low_level = ConvBNAct(in_channels[0], low_level_channels, 1)
        self.fuse = nn.Sequential(SeparableConvBNAct(channels + low_level_channels, channels),
                                  SeparableConvBNAct(channels, channels))
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.feature_channels = channels

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        x = features[-1]
        context = self.aspp_bottleneck(torch.cat([self.image_pool(x), *(branch(x) for branch in self.aspp)], dim=1))
        low = self.low_level(features[0])
        context = resize_like(context, low.shape[-2:], align_corners=self.align_corners)
        return DecoderFeatures(self.fuse(torch.cat([context, low], dim=1)), [], [])

    def classify(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(x))
