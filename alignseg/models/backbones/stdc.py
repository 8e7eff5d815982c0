"""STDC1 (STDCNet813) and STDC2 (STDCNet1446) with the official module names, minus the unused classifier.

The released backbone also registers every stage a second time (``x2``/``x4``/.../``x32``) and carries
an ImageNet head (``conv_last``, ``fc``, ``bn``, ``linear``) that segmentation never runs; both are left
out here and :meth:`STDCNet.remap_pretrained` drops them from official checkpoints.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from ..weights import WeightsError
from .base import Backbone, FeatureInfo
from .resnet import init_conv_bn

_LEFTOVER_PREFIXES = ("conv_last.", "fc.", "bn.", "linear.")
_ALIAS = re.compile(r"^x(?:2|4|8|16|32)\.0\.(\d+)\.(.+)$")  # x8.0.3.conv.weight = features.3.conv.weight


class ConvX(nn.Module):
    """Conv (no bias, 'same' padding) + BN + ReLU, keys ``conv``/``bn``."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class CatBottleneck(nn.Module):
    """STDC module: a 1×1 ConvX to out/2, then 3×3 ConvX to out/4, out/8, out/8, all outputs concatenated.

    With stride 2 the first output goes through a depthwise 3×3 stride-2 conv + BN (``avd_layer``) before
    the next ConvX, and its own branch of the concatenation is average-pooled (3×3, stride 2, pad 1).
    """

    def __init__(self, in_ch: int, out_ch: int, *, stride: int = 1) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"CatBottleneck stride must be 1 or 2, got {stride}")
        self.stride = stride
        half = out_ch // 2
        self.conv_list = nn.ModuleList([
            ConvX(in_ch, half, kernel=1),
            ConvX(half, out_ch // 4),
            ConvX(out_ch // 4, out_ch // 8),
            ConvX(out_ch // 8, out_ch // 8),
        ])
        if stride == 2:
            self.avd_layer = nn.Sequential(
                nn.Conv2d(half, half, 3, stride=2, padding=1, groups=half, bias=False), nn.BatchNorm2d(half)
            )
            self.skip = nn.AvgPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.conv_list[0](x)
        out = self.avd_layer(first) if self.stride == 2 else first
        outs = []
        for conv in self.conv_list[1:]:
            out = conv(out)
            outs.append(out)
        if self.stride == 2:
            first = self.skip(first)
        return torch.cat([first, *outs], dim=1)


class STDCNet(Backbone):
    """STDC backbone returning [x4 (64, s4), x8 (256, s8), x16 (512, s16), x32 (1024, s32)].

    ``features`` holds ConvX 3→32 s2, ConvX 32→64 s2, then ``blocks_per_stage`` CatBottlenecks per
    stage (the first of each with stride 2), widths 256, 512, 1024, exactly as the official ``features``.
    """

    def __init__(self, *, blocks_per_stage: tuple[int, int, int], in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = [ConvX(in_channels, 32, stride=2), ConvX(32, 64, stride=2)]
        self._taps = [1]  # indices in ``features`` whose outputs are returned
        in_ch = 64
        for out_ch, n in zip((256, 512, 1024), blocks_per_stage, strict=True):
            for j in range(n):
                layers.append(CatBottleneck(in_ch, out_ch, stride=2 if j == 0 else 1))
                in_ch = out_ch
            self._taps.append(len(layers) - 1)
        self.features = nn.Sequential(*layers)
        self.feature_info = [FeatureInfo(64, 4), FeatureInfo(256, 8), FeatureInfo(512, 16),
                             FeatureInfo(1024, 32)]
        init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._taps:
                feats.append(x)
        return feats

    @classmethod
    def remap_pretrained(
        cls, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Drop the ``x2``..``x32`` aliases (checked equal to ``features``) and the ImageNet leftovers.

        Works on the ImageNet backbone file and on the ``backbone.`` subtree of the official SFNet-STDC
        models. An alias whose ``features`` copy is absent is renamed to it instead of dropped.
        """
        out: dict[str, torch.Tensor] = {}
        dropped: list[str] = []
        for key, value in state_dict.items():
            alias = _ALIAS.match(key)
            if alias is None:
                if key.startswith(_LEFTOVER_PREFIXES):
                    dropped.append(key)
                else:
                    out[key] = value
                continue
            target = f"features.{alias.group(1)}.{alias.group(2)}"
            if target not in state_dict:
                out[target] = value
                continue
            original = state_dict[target]
            if original.shape != value.shape or not torch.equal(original, value):
                raise WeightsError(
                    f"STDC checkpoint is inconsistent: alias {key!r} differs from {target!r}, which the "
                    "official model registers as the same tensor; the file is corrupt or was edited"
                )
            dropped.append(key)
        return out, dropped


def stdc1(*, in_channels: int = 3) -> STDCNet:
    """STDC1 (official STDCNet813): 2/2/2 CatBottlenecks per stage."""
    return STDCNet(blocks_per_stage=(2, 2, 2), in_channels=in_channels)


def stdc2(*, in_channels: int = 3) -> STDCNet:
    """STDC2 (official STDCNet1446): 4/5/3 CatBottlenecks per stage."""
    return STDCNet(blocks_per_stage=(4, 5, 3), in_channels=in_channels)
