"""Class weights for the pixel losses: a list in the config, or a class-statistics JSON file.

The file is what ``alignseg data stats`` writes::

    {"dataset": str, "split": str, "class_names": [...], "frequencies": [...],
     "weights": {"inverse": [...], "median_frequency": [...], "log": [...]}}

``loss.class_weighting`` chooses one of the ``weights`` lists (default ``median_frequency``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["WEIGHTINGS", "resolve_class_weights"]

WEIGHTINGS = ("inverse", "median_frequency", "log")


def _numbers(values: object, what: str, num_classes: int) -> tuple[float, ...]:
    if not isinstance(values, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"{what} must be a list of numbers, got {values!r}")
    weights = tuple(float(v) for v in values)
    if len(weights) != num_classes:
        raise ValueError(f"{what} has {len(weights)} entries for {num_classes} classes")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ValueError(f"{what} must hold finite non-negative numbers, got {list(weights)}")
    return weights


def resolve_class_weights(
    value: Sequence[float] | str | os.PathLike | None, num_classes: int, weighting: str = "median_frequency"
) -> tuple[float, ...] | None:
    """One weight per class from ``loss.class_weights`` (a list, or the path of a class-statistics JSON
    file whose ``weights[weighting]`` list is used); None stays None. Errors name the key or the file."""
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        return _numbers(list(value), "loss.class_weights", num_classes)
    if weighting not in WEIGHTINGS:
        raise ValueError(f"loss.class_weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"loss.class_weights: class-statistics file not found: {path}")
    try:
        stats = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a JSON file ({error})") from None
    weights = stats.get("weights") if isinstance(stats, dict) else None
    if not isinstance(weights, dict) or weighting not in weights:
        raise ValueError(f"{path}: no 'weights' list named {weighting!r} (the file of `alignseg data stats` "
                         f"holds weights.{{{', '.join(WEIGHTINGS)}}})")
    return _numbers(weights[weighting], f"{path}: weights.{weighting}", num_classes)
