"""HFGD's OS32 encoders (spec fapn_hfgd.md 2.3, 2.4): the CAE, CAR's SA head, and the plain FCN top.

Each maps the stride-32 backbone map to ``out_channels`` (the teacher feature f_h and the upsampler's
top input) and returns the features the CAR losses read (None for the FCN top, which has no CAR).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from .conv import ConvBNAct
from .self_attention import SelfAttention

EncoderKind = Literal["cae", "sa_car", "fcn"]


class CARBlock(nn.Module):
    """CAR's block after the attention: ``linear_conv`` (1×1 with bias; the CAR losses read its output),
    then the 1×1 ``end_conv`` with BN and ReLU (``apply_car_convs=True``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear_conv = nn.Conv2d(channels, channels, 1)
        self.end_conv = ConvBNAct(channels, channels, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        car_features = self.linear_conv(x)
        return self.end_conv(car_features), car_features


class ContextEncoder(nn.Module):
    """Stem convs → self-attention (512, keys 64) → CAR block → trailing Conv+BN+ReLU to ``out_channels``.

    ``kind="cae"`` is HFGD's CAE: a wide 1×1 Conv+BN+ReLU ``in → wide_channels`` (default: as wide as
    the input, 2048 on ResNet-50) then a 1×1 Conv+BN+ReLU to 512. ``kind="sa_car"`` is CAR's SA head
    (Table 4's "SA (CAR)"): a 3×3 Conv+BN+ReLU to 512. ``trailing_kernel`` is 1 (default, [AMBIG] 5) or 3.
    """

    def __init__(self, in_channels: int, out_channels: int = 256, *, kind: Literal["cae", "sa_car"] = "cae",
                 wide_channels: int | None = None, channels: int = 512, key_channels: int = 64,
                 trailing_kernel: int = 1) -> None:
        super().__init__()
        if kind == "cae":
            wide_channels = wide_channels or in_channels
            wide = ConvBNAct(in_channels, wide_channels, 1)
            self.stem: nn.Module = nn.Sequential(wide, ConvBNAct(wide_channels, channels, 1))
        elif kind == "sa_car":
            self.stem = ConvBNAct(in_channels, channels, 3)
        else:
            raise ValueError(f"context encoder kind must be 'cae' or 'sa_car', got {kind!r}")
        if trailing_kernel not in (1, 3):
            raise ValueError(f"trailing_kernel must be 1 or 3, got {trailing_kernel!r}")
        self.attention = SelfAttention(channels, key_channels)
        self.car = CARBlock(channels)
        self.trailing = ConvBNAct(channels, out_channels, trailing_kernel)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        x, car_features = self.car(self.attention(self.stem(x)))
        return self.trailing(x), car_features


class FCNTop(nn.Module):
    """CAR's FCN head without its classifier ("Identity" extra encoding): 3×3 Conv+BN+ReLU to 512, then
    1×1 Conv+BN+ReLU to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int = 256, *, channels: int = 512) -> None:
        super().__init__()
        self.conv = ConvBNAct(in_channels, channels, 3)
        self.project = ConvBNAct(channels, out_channels, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.project(self.conv(x)), None


def build_encoder(kind: EncoderKind, in_channels: int, out_channels: int = 256, *, trailing_kernel: int = 1,
                  wide_channels: int | None = None) -> ContextEncoder | FCNTop:
    """The OS32 encoder ``kind``: ``"cae"`` (HFGD), ``"sa_car"`` (CAR's SA head) or ``"fcn"`` (no context)."""
    if kind == "fcn":
        return FCNTop(in_channels, out_channels)
    if kind in ("cae", "sa_car"):
        return ContextEncoder(in_channels, out_channels, kind=kind, trailing_kernel=trailing_kernel,
                              wide_channels=wide_channels)
    raise ValueError(f"encoder must be one of 'cae', 'sa_car', 'fcn', got {kind!r}")
