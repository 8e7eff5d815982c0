"""What a decoder returns: main logits, the features deep-supervision heads read, and the flows."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class DecoderOutput(NamedTuple):
    """Main logits at the decoder's output stride, plus train-time and diagnostic extras.

    ``aux_features`` are the maps deep-supervision heads are attached to, ordered coarse → fine
    (released SFNet order); ``flows`` are the semantic flows in released units, ordered as computed.
    """

    logits: Tensor
    aux_features: list[Tensor]
    flows: list[Tensor]
