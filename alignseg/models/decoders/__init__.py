"""Decoders: turn a backbone's feature list into logits (plus deep-supervision features and flows)."""

from .aligned_fpn import AlignedFPNDecoder
from .aux_head import AuxHead
from .base import Decoder, DecoderFeatures, DecoderOutput
from .fapn import FaPNDecoder, FaPNNeck, FaPNRealtimeDecoder, SemanticFPNHead
from .fcn import FCNDecoder
from .lite import LiteAlignedDecoder

__all__ = [
    "AlignedFPNDecoder", "AuxHead", "Decoder", "DecoderFeatures", "DecoderOutput", "FCNDecoder", "FaPNDecoder",
    "FaPNNeck", "FaPNRealtimeDecoder", "LiteAlignedDecoder", "SemanticFPNHead",
]
