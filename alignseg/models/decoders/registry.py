"""Decoders by name (those a guidance wrapper can wrap; the zoo adds the wrapper itself)."""

from __future__ import annotations

from .aligned_fpn import AlignedFPNDecoder
from .deeplabv3plus import DeepLabV3PlusDecoder
from .fapn import FaPNDecoder, FaPNRealtimeDecoder
from .fcn import FCNDecoder
from .lite import LiteAlignedDecoder
from .semantic_fpn import SemanticFPNDecoder
from .upernet import UperNetDecoder

BASE_DECODERS: dict[str, type] = {
    "aligned_fpn": AlignedFPNDecoder, "lite": LiteAlignedDecoder, "fcn": FCNDecoder,
    "fapn": FaPNDecoder, "fapn_realtime": FaPNRealtimeDecoder, "semantic_fpn": SemanticFPNDecoder,
    "upernet": UperNetDecoder, "deeplabv3plus": DeepLabV3PlusDecoder,
}
