"""FCN baseline decoder: a 3×3 conv-BN-ReLU and a classifier on the coarsest map only."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ..ops.conv import ConvBNAct
from .base import Decoder, DecoderFeatures


class FCNDecoder(Decoder):
    """Predict from the last (stride-32) feature map alone: the no-decoder baseline of the ablations.

    The features are the 3×3 conv's output; ``classify`` applies the dropout, then the classifier.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, *, channels: int = 128,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.head = ConvBNAct(in_channels[-1], channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.feature_channels = channels

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        return DecoderFeatures(self.head(features[-1]), [], [])

    def classify(self, x: Tensor) -> Tensor:
        return self.classifier(self.dropout(x))
