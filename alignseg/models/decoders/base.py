"""What a decoder returns: main logits, the features deep-supervision heads read, and the flows.

(Interim copy of the training-output contract; the contract branch's version replaces it on merge.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from torch import Tensor, nn


class DecoderFeatures(NamedTuple):
    """The decoder's last feature map (before its classifier), deep-supervision features and flows."""

    features: Tensor
    aux_features: list[Tensor]
    flows: list[Tensor]


class DecoderOutput(NamedTuple):
    """Main logits at the decoder's output stride, plus train-time and diagnostic extras.

    ``aux_features`` are the maps deep-supervision heads are attached to, ordered coarse → fine
    (released SFNet order); ``flows`` are the semantic flows in released units, ordered as computed.
    """

    logits: Tensor
    aux_features: list[Tensor]
    flows: list[Tensor]
    aux_logits: dict[str, Tensor] = {}  # noqa: RUF012 - never mutated
    loss_inputs: dict[str, Tensor] = {}  # noqa: RUF012


class Decoder(nn.Module):
    """Features first, then the classifier: a guidance module can wrap any decoder."""

    feature_channels: int
    classifier: nn.Module

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        raise NotImplementedError

    def classify(self, x: Tensor) -> Tensor:
        return self.classifier(x)

    def forward(self, features: Sequence[Tensor]) -> DecoderOutput:
        out = self.forward_features(features)
        return DecoderOutput(self.classify(out.features), out.aux_features, out.flows)
