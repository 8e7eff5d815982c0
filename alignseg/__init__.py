"""alignseg: semantic segmentation with feature-aligned decoders (SFNet, SFNet-Lite, FaPN, HFGD)."""

__version__ = "0.1.0"
