"""Loading weights into a module strictly, with errors that name the file (files are read by ``checkpoint``)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


class WeightsError(ValueError):
    """A weight file is missing, unreadable or does not fit the model it is loaded into."""


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Remove ``prefix`` from every key that starts with it; other keys are kept as they are."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state_dict`` into ``module``, requiring the same keys and shapes on both sides.

    On any mismatch raise one ``WeightsError`` naming ``source`` and the first offending keys, instead of
    PyTorch's long message or a silent partial load. Missing BN ``num_batches_tracked`` counters are set
    to 0, as PyTorch does for old files.
    """
    own = module.state_dict()
    state_dict = dict(state_dict)
    for key in own:  # BN step counters, absent from files saved before PyTorch 0.4.1 (torchvision's)
        if key.endswith(".num_batches_tracked") and key not in state_dict:
            state_dict[key] = torch.zeros_like(own[key])
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong_shape = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {', '.join(missing[:5])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {', '.join(unexpected[:5])})")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatches (first: {'; '.join(wrong_shape[:3])})")
    if problems:
        raise WeightsError(
            f"weights from {source} do not fit {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict(state_dict, strict=True)
