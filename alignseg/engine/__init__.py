"""Training and evaluation engine: typed configs, optimiser/schedule builders, loaders that resume
mid-epoch, evaluation loops, and Lightning (``lightning.pytorch``) for the loop, DDP, mixed precision,
checkpoints and logging. Lightning is imported only by ``module``, ``callbacks``, ``trainer`` and ``demo``.
"""

from __future__ import annotations

from typing import Any

from .config import Config, ConfigError, load_config, parse_overrides, save_config
from .evaluator import evaluate, predict_logits
from .optim import build_optimizer, build_scheduler, parameter_groups, poly_factor

__all__ = [
    "Config",
    "ConfigError",
    "SegmentationDataModule",
    "SegmentationModule",
    "TrainResult",
    "build_optimizer",
    "build_scheduler",
    "evaluate",
    "fit",
    "load_config",
    "parameter_groups",
    "parse_overrides",
    "poly_factor",
    "predict_logits",
    "save_config",
]

_LAZY = {
    "SegmentationDataModule": "module",
    "SegmentationModule": "module",
    "TrainResult": "trainer",
    "fit": "trainer",
}


def __getattr__(name: str) -> Any:
    # The Lightning parts are imported on first use: configs and evaluation do not need Lightning.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
