"""alignseg: semantic segmentation with feature-aligned decoders (SFNet, SFNet-Lite, FaPN, HFGD)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Predictor", "__version__", "create_model", "list_models", "load_model", "save_pretrained"]

_LAZY = {
    "create_model": "models.factory",
    "load_model": "models.factory",
    "list_models": "models.zoo",
    "save_pretrained": "models.pretrained",
    "Predictor": "predict.predictor",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `import alignseg.data` does not build the model zoo.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'alignseg' has no attribute {name!r}")
