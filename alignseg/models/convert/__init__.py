"""Converters from released checkpoints of other code bases to alignseg state dicts."""

from .report import ConversionReport
from .sfsegnets import convert_sfsegnets, rename_head

CONVERTERS = {"sfsegnets": convert_sfsegnets}

__all__ = ["CONVERTERS", "ConversionReport", "convert_sfsegnets", "rename_head"]
