"""ResNet-18/34/50/101 with torchvision key names, the deep stem of the released SFNet and its variant D.

Blocks → layer builder → model → one factory per depth. The module names are those of torchvision
(``stem="standard"``) or of the official ``resnet_d`` ImageNet checkpoints (``stem="deep"``), so both
load after :meth:`ResNet.remap_pretrained` has dropped the classifier.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .base import Backbone, FeatureInfo

Stem = Literal["deep", "standard"]

# depth -> (block type, blocks per layer)
_ARCHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}


def conv3x3(in_ch: int, out_ch: int, *, stride: int = 1, dilation: int = 1, groups: int = 1) -> nn.Conv2d:
    """3×3 convolution without bias whose padding keeps the size (up to the stride) at any dilation."""
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=dilation, dilation=dilation, groups=groups,
                     bias=False)


def init_conv_bn(module: nn.Module) -> None:
    """Standard ResNet init: Kaiming-normal (fan_out, ReLU) convs, BN weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class BasicBlock(nn.Module):
    """Two 3×3 convs with an identity or 1×1-projection shortcut; the stride sits in the first conv."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, *, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_ch, planes, stride=stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _shortcut(in_ch, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (carrying the stride and the dilation), 1×1 expand ×4, plus the shortcut.

    ``stride_in_1x1`` moves the stride to the first 1×1 conv, as in the original MSRA ResNets that
    detectron2 models are trained from (``RESNETS.STRIDE_IN_1X1``); the parameters are the same.
    """

    expansion = 4

    def __init__(self, in_ch: int, planes: int, *, stride: int = 1, dilation: int = 1,
                 stride_in_1x1: bool = False) -> None:
        super().__init__()
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = nn.Conv2d(in_ch, planes, 1, stride=stride_1x1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride=stride_3x3, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_ch, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    """1×1 conv + BN projection (keys ``downsample.0/.1``) when the shape changes, else None (identity)."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


def make_layer(
    block: type[BasicBlock | Bottleneck], in_ch: int, planes: int, blocks: int, *, stride: int = 1,
    dilation: int = 1, first_dilation: int | None = None, stride_in_1x1: bool = False,
) -> nn.Sequential:
    """A stage of ``blocks`` residual blocks; only the first one strides (and projects if needed).

    The first block's 3×3 gets ``first_dilation`` (default ``dilation``), the others ``dilation``.
    """
    extra = {"stride_in_1x1": True} if stride_in_1x1 else {}
    first = dilation if first_dilation is None else first_dilation
    layers = [block(in_ch, planes, stride=stride, dilation=first, **extra)]
    layers += [block(planes * block.expansion, planes, dilation=dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet(Backbone):
    """ResNet returning [layer1, layer2, layer3, layer4] at strides 4, 8, 16, 32 (no avgpool, no fc).

    ``stem="deep"`` is the released SFNet ``resnet_d`` stem (three 3×3 convs, 128 channels out);
    ``stem="standard"`` is torchvision's 7×7 stem. ``dilated=True`` is the released "variant D": the
    3×3 ``conv2`` of layer3/layer4 get dilation 2/4 while the strides stay, so the output stride is 32.
    ``stride_in_1x1=True`` (bottleneck depths only) is detectron2's MSRA layout (see :class:`Bottleneck`).
    ``output_stride`` 16 or 8 is the DeepLab dilated trunk: the last (16) or last two (8) stages do not
    stride and dilate their 3×3 convs by 2 (layer4 at 8: 4) instead, the first block of each such stage
    keeping the previous dilation (torchvision's ``replace_stride_with_dilation``, mmseg's
    ``contract_dilation``); the feature strides become 4, 8, 16, 16 (or 4, 8, 8, 8).
    """

    def __init__(self, *, depth: Literal[18, 34, 50, 101], stem: Stem = "deep", dilated: bool = False,
                 in_channels: int = 3, stride_in_1x1: bool = False, output_stride: Literal[8, 16, 32] = 32) -> None:
        super().__init__()
        if depth not in _ARCHS:
            raise ValueError(f"ResNet depth must be one of {sorted(_ARCHS)}, got {depth!r}")
        if stem not in ("deep", "standard"):
            raise ValueError(f"stem must be 'deep' or 'standard', got {stem!r}")
        kind, counts = _ARCHS[depth]
        if stride_in_1x1 and kind != "bottleneck":
            raise ValueError(f"stride_in_1x1 applies to bottleneck ResNets (50, 101), not ResNet-{depth}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if dilated and output_stride != 32:
            raise ValueError("dilated=True (released variant D, output stride 32) and output_stride < 32 exclude "
                             "each other")
        block = BasicBlock if kind == "basic" else Bottleneck
        self.depth, self.stem, self.dilated, self.in_channels = depth, stem, dilated, in_channels
        self.output_stride = output_stride
        self.stride_in_1x1 = stride_in_1x1

        if stem == "deep":
            self.conv1: nn.Module = nn.Sequential(
                conv3x3(in_channels, 64, stride=2), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                conv3x3(64, 64), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                conv3x3(64, 128),
            )
            stem_ch = 128
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
            stem_ch = 64
        self.bn1 = nn.BatchNorm2d(stem_ch)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)

        widths = (64, 128, 256, 512)
        dilations = (1, 1, 2, 4) if dilated else (1, 1, 1, 1)
        strides = (1, 2, 2, 2)
        if output_stride < 32:  # DeepLab: trade the last strides for dilation
            dilations = (1, 1, 1, 2) if output_stride == 16 else (1, 1, 2, 4)
            strides = (1, 2, 2, 1) if output_stride == 16 else (1, 2, 1, 1)
        in_ch, previous, stride_so_far, feature_strides = stem_ch, 1, 4, []
        for i, (planes, n, dil, stride) in enumerate(zip(widths, counts, dilations, strides, strict=True)):
            first = previous if output_stride < 32 else dil
            layer = make_layer(block, in_ch, planes, n, stride=stride, dilation=dil, first_dilation=first,
                               stride_in_1x1=stride_in_1x1)
            self.add_module(f"layer{i + 1}", layer)
            in_ch, previous, stride_so_far = planes * block.expansion, dil, stride_so_far * stride
            feature_strides.append(stride_so_far)
        self.feature_info = [FeatureInfo(w * block.expansion, s) for w, s in zip(widths, feature_strides,
                                                                                 strict=True)]
        init_conv_bn(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats

    @classmethod
    def remap_pretrained(
        cls, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Map torchvision, deep-stem ImageNet or official SFNet-model backbone keys to ours; drop ``fc``.

        The SFNet segmentation models name the deep stem ``layer0.0.k`` (convs/BNs) and ``layer0.1``
        (last BN); the ImageNet files call them ``conv1.k`` and ``bn1`` as we do.
        """
        out: dict[str, torch.Tensor] = {}
        dropped: list[str] = []
        for key, value in state_dict.items():
            if key.startswith("fc."):
                dropped.append(key)
                continue
            if key.startswith("layer0.0."):
                key = "conv1." + key[len("layer0.0."):]
            elif key.startswith("layer0.1."):
                key = "bn1." + key[len("layer0.1."):]
            out[key] = value
        return out, dropped


def resnet18(*, stem: Stem = "deep", dilated: bool = False, in_channels: int = 3,
             output_stride: Literal[8, 16, 32] = 32) -> ResNet:
    """ResNet-18 (BasicBlock [2, 2, 2, 2]); features 64/128/256/512 channels."""
    return ResNet(depth=18, stem=stem, dilated=dilated, in_channels=in_channels, output_stride=output_stride)


def resnet34(*, stem: Stem = "deep", dilated: bool = False, in_channels: int = 3,
             output_stride: Literal[8, 16, 32] = 32) -> ResNet:
    """ResNet-34 (BasicBlock [3, 4, 6, 3]); features 64/128/256/512 channels."""
    return ResNet(depth=34, stem=stem, dilated=dilated, in_channels=in_channels, output_stride=output_stride)


def resnet50(*, stem: Stem = "deep", dilated: bool = False, in_channels: int = 3,
             stride_in_1x1: bool = False, output_stride: Literal[8, 16, 32] = 32) -> ResNet:
    """ResNet-50 (Bottleneck [3, 4, 6, 3]); features 256/512/1024/2048 channels."""
    return ResNet(depth=50, stem=stem, dilated=dilated, in_channels=in_channels, stride_in_1x1=stride_in_1x1,
                  output_stride=output_stride)


def resnet101(*, stem: Stem = "deep", dilated: bool = False, in_channels: int = 3,
              stride_in_1x1: bool = False, output_stride: Literal[8, 16, 32] = 32) -> ResNet:
    """ResNet-101 (Bottleneck [3, 4, 23, 3]); features 256/512/1024/2048 channels."""
    return ResNet(depth=101, stem=stem, dilated=dilated, in_channels=in_channels, stride_in_1x1=stride_in_1x1,
                  output_stride=output_stride)
