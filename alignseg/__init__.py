"""alignseg: semantic segmentation with feature-aligned decoders (SFNet, SFNet-Lite, FaPN, HFGD)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "create_model", "list_models"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `import alignseg.data` does not build the model zoo.
    if name == "create_model":
        from .models.factory import create_model

        return create_model
    if name == "list_models":
        from .models.zoo import list_models

        return list_models
    raise AttributeError(f"module 'alignseg' has no attribute {name!r}")
