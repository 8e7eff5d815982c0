"""Decoders: turn a backbone's feature list into logits (plus deep-supervision features and flows)."""

from .aligned_fpn import AlignedFPNDecoder
from .aux_head import AuxHead
from .base import Decoder, DecoderFeatures, DecoderOutput
from .deeplabv3plus import DeepLabV3PlusDecoder
from .fapn import FaPNDecoder, FaPNNeck, FaPNRealtimeDecoder, SemanticFPNHead
from .fcn import FCNDecoder
from .lite import LiteAlignedDecoder
from .upernet import UperNetDecoder

__all__ = [
    "AlignedFPNDecoder", "AuxHead", "Decoder", "DecoderFeatures", "DecoderOutput", "DeepLabV3PlusDecoder",
    "FCNDecoder", "FaPNDecoder", "FaPNNeck", "FaPNRealtimeDecoder", "LiteAlignedDecoder", "SemanticFPNHead",
    "UperNetDecoder",
]
