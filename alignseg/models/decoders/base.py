"""The decoder contract: features first, then a classifier, so that a wrapper can reuse any decoder.

A :class:`Decoder` turns a backbone's feature list into :class:`DecoderFeatures` (the map its
classifier reads, the maps deep-supervision heads read, the semantic flows) in ``forward_features``,
and into logits in ``classify``. ``forward`` does both and returns a :class:`DecoderOutput`. A guidance
module (HFGD's HFGM) wraps any decoder by calling its ``forward_features`` and reading its
``feature_channels``, and fills ``aux_logits`` / ``loss_inputs`` of its own output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from torch import Tensor, nn


class DecoderFeatures(NamedTuple):
    """What a decoder computes before its classifier.

    ``features`` is the map the classifier reads (``feature_channels`` channels, at the decoder's output
    stride); ``aux_features`` are the maps deep-supervision heads are attached to, ordered coarse → fine
    (released SFNet order); ``flows`` are the semantic flows in released units, ordered as computed.
    """

    features: Tensor
    aux_features: list[Tensor]
    flows: list[Tensor]


class DecoderOutput(NamedTuple):
    """Main logits at the decoder's output stride, plus train-time and diagnostic extras.

    ``aux_features`` and ``flows`` as in :class:`DecoderFeatures`. ``aux_logits`` are named extra logits
    the criterion supervises (e.g. HFGD's teacher, ``"teacher"``); ``loss_inputs`` are named tensors loss
    terms read (e.g. the CAE features of the CAR losses). Plain decoders leave both empty.
    """

    logits: Tensor
    aux_features: list[Tensor]
    flows: list[Tensor]
    aux_logits: dict[str, Tensor]
    loss_inputs: dict[str, Tensor]


class Decoder(nn.Module):
    """Base of every decoder: ``forward_features`` (subclasses) then ``classify``.

    Subclasses set ``feature_channels`` (channels of the map the classifier reads) and ``classifier``
    (the module holding the final 1×1 conv; a property where released key names keep it elsewhere), and
    override ``classify`` when something sits between the features and the classifier (e.g. dropout).
    """

    feature_channels: int
    classifier: nn.Module

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        raise NotImplementedError

    def classify(self, x: Tensor) -> Tensor:
        """Logits from the map ``forward_features`` returned."""
        return self.classifier(x)

    def forward(self, features: Sequence[Tensor]) -> DecoderOutput:
        out = self.forward_features(features)
        return DecoderOutput(self.classify(out.features), out.aux_features, out.flows, {}, {})
