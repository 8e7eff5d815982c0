"""Converters from released checkpoints of other code bases to alignseg state dicts."""

from .fapn import convert_fapn
from .report import ConversionReport
from .sfsegnets import convert_sfsegnets, rename_head

CONVERTERS = {"sfsegnets": convert_sfsegnets, "fapn": convert_fapn}

__all__ = ["CONVERTERS", "ConversionReport", "convert_fapn", "convert_sfsegnets", "rename_head"]
