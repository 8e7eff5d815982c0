"""Temporary stand-in for the decoder contract (features, then classifier) until it lands in ``base``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from torch import Tensor, nn

from .base import DecoderOutput


class DecoderFeatures(NamedTuple):
    features: Tensor
    aux_features: list[Tensor]
    flows: list[Tensor]


class Decoder(nn.Module):
    feature_channels: int
    classifier: nn.Module

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        raise NotImplementedError

    def classify(self, x: Tensor) -> Tensor:
        return self.classifier(x)

    def forward(self, features: Sequence[Tensor]) -> DecoderOutput:
        out = self.forward_features(features)
        return DecoderOutput(self.classify(out.features), out.aux_features, out.flows)
