"""Deep-supervision head (released ``dsn``): trained on an intermediate map, dropped at eval and export."""

from __future__ import annotations

from torch import nn

from ..ops.conv import ConvBNAct


class AuxHead(nn.Sequential):
    """3×3 conv (with bias) → BN → ReLU → Dropout2d(0.1) → 1×1 classifier (spec sfnet.md 3.7)."""

    def __init__(self, in_channels: int, num_classes: int, *, channels: int | None = None,
                 dropout: float = 0.1) -> None:
        super().__init__()
        mid = channels or in_channels
        self.block = ConvBNAct(in_channels, mid, 3, bias=True)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(mid, num_classes, 1)
