"""Alignment and context operators shared by the decoders."""
