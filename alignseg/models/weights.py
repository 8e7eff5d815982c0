"""Reading weight files from local paths and loading them strictly, with errors that name the file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

_WRAPPER_KEYS = ("state_dict", "model", "model_state", "net")


class WeightsError(ValueError):
    """A weight file is missing, unreadable or does not fit the model it is loaded into."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file's flat state dict, the entries beside it (model name, classes, ...) and its path.

    Read a file once and hand this on (``create_model(pretrained=checkpoint)``) instead of the path.
    """

    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any]
    source: str


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint file once: its flat state dict and its metadata.

    Accepts a bare state dict, one wrapped under ``state_dict``/``model`` (alignseg and released training
    checkpoints), or a Lightning checkpoint written by ``alignseg train`` (the model's tensors under
    ``model.``, the metadata under ``alignseg``), and strips the ``module.`` prefix that
    DistributedDataParallel adds. The metadata are the entries beside the state dict that hold no tensors
    (model name, classes, training config, ...; empty for a bare state dict). Nothing is downloaded.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError(f"weights file not found: {path!r} (alignseg never downloads weights; "
                           "give the path of a local file)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or non-checkpoint files
        raise WeightsError(f"cannot read weights file {path!r}: {exc}") from exc
    metadata: dict[str, Any] = {}
    if isinstance(obj, Mapping) and isinstance(obj.get("alignseg"), Mapping) and "state_dict" in obj:
        metadata = {**obj["alignseg"], "epoch": obj.get("epoch"), "step": obj.get("global_step")}
        obj = {k.removeprefix("model."): v for k, v in obj["state_dict"].items() if k.startswith("model.")}
    elif isinstance(obj, Mapping):
        wrapper = next((key for key in _WRAPPER_KEYS if isinstance(obj.get(key), Mapping)), None)
        metadata = {k: v for k, v in obj.items() if k != wrapper and not _holds_tensors(v)}
        obj = obj if wrapper is None else obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path!r} does not hold a state dict (a mapping of names to tensors)")
    return Checkpoint(strip_prefix(dict(obj), "module."), metadata, path)


def _holds_tensors(value: Any) -> bool:
    """Whether ``value`` is a tensor or a container with a tensor anywhere inside (optimiser states, ...)."""
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(_holds_tensors(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_tensors(v) for v in value)
    return False


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The flat state dict of a checkpoint file (see :func:`read_checkpoint`)."""
    return read_checkpoint(path).state_dict


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
