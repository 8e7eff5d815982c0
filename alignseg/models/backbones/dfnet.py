"""DF1 and DF2 (DFNet v1/v2 of "Partial Order Pruning") with the official module names of the SFNet code.

Both share the two-conv stem ``stage1`` and ResNet BasicBlocks; they differ in stage names and depths and
in which three stages they return (see each class).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Backbone, FeatureInfo
from .resnet import BasicBlock, conv3x3, init_conv_bn, make_layer

_CLASSIFIER_PREFIXES = ("fc.", "linear.")


def _stem(in_channels: int) -> nn.Sequential:
    """``stage1``: 3×3 conv 3→32 s2 + BN + ReLU, 3×3 conv 32→64 s2 + BN + ReLU (stride 4, 64 channels)."""
    return nn.Sequential(
        conv3x3(in_channels, 32, stride=2), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
        conv3x3(32, 64, stride=2), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
    )


class _DFNet(Backbone):
    """Shared checkpoint handling: official names are ours, only an ImageNet classifier is dropped."""

    @classmethod
    def remap_pretrained(
        cls, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Keep every key as is except the ImageNet classifier (``fc.*``, ``linear.*``), which is dropped."""
        dropped = [k for k in state_dict if k.startswith(_CLASSIFIER_PREFIXES)]
        return {k: v for k, v in state_dict.items() if not k.startswith(_CLASSIFIER_PREFIXES)}, dropped


class DFNet1(_DFNet):
    """DF1: stages 2-4 of 3 blocks (64/128/256, stride 2 each), stage5 one block 512 at stride 1.

    Returns [stage3 (128, s16), stage4 (256, s32), stage5 (512, s32)], the three maps SFNet-DF1 uses.
    """

    def __init__(self, *, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stage1 = _stem(in_channels)
        self.stage2 = make_layer(BasicBlock, 64, 64, 3, stride=2)
        self.stage3 = make_layer(BasicBlock, 64, 128, 3, stride=2)
        self.stage4 = make_layer(BasicBlock, 128, 256, 3, stride=2)
        self.stage5 = make_layer(BasicBlock, 256, 512, 1)
        self.feature_info = [FeatureInfo(128, 16), FeatureInfo(256, 32), FeatureInfo(512, 32)]
        init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x3 = self.stage3(self.stage2(self.stage1(x)))
        x4 = self.stage4(x3)
        return [x3, x4, self.stage5(x4)]


class DFNet2(_DFNet):
    """DF2: each resolution has a strided stage ``_1`` and a widening stage ``_2`` (2+1, 10+1, 4+2 blocks).

    Returns [stage2_2 (128, s8), stage3_2 (256, s16), stage4_2 (512, s32)].
    """

    def __init__(self, *, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stage1 = _stem(in_channels)
        self.stage2_1 = make_layer(BasicBlock, 64, 64, 2, stride=2)
        self.stage2_2 = make_layer(BasicBlock, 64, 128, 1)
        self.stage3_1 = make_layer(BasicBlock, 128, 128, 10, stride=2)
        self.stage3_2 = make_layer(BasicBlock, 128, 256, 1)
        self.stage4_1 = make_layer(BasicBlock, 256, 256, 4, stride=2)
        self.stage4_2 = make_layer(BasicBlock, 256, 512, 2)
        self.feature_info = [FeatureInfo(128, 8), FeatureInfo(256, 16), FeatureInfo(512, 32)]
        init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x2 = self.stage2_2(self.stage2_1(self.stage1(x)))
        x3 = self.stage3_2(self.stage3_1(x2))
        return [x2, x3, self.stage4_2(self.stage4_1(x3))]


def df1(*, in_channels: int = 3) -> DFNet1:
    """DF1 backbone (official ``dfnetv1``)."""
    return DFNet1(in_channels=in_channels)


def df2(*, in_channels: int = 3) -> DFNet2:
    """DF2 backbone (official ``dfnetv2``)."""
    return DFNet2(in_channels=in_channels)
