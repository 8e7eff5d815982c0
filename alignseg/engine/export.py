"""The alignseg model checkpoint: a trained model with what is needed to use it, written atomically.

Format (a ``torch.save``'d dict, readable with ``torch.load(..., weights_only=True)``)::

    {"model": "sfnet_lite_r18", "num_classes": K, "class_names": [...], "palette": [[r, g, b], ...],
     "ignore_index": 255, "state_dict": model.state_dict(),
     # extras, for the record: "epoch", "step", "val_miou", "config" (the training config as a dict)}

``alignseg.create_model(name, num_classes=K, pretrained=path)`` loads it (the ``state_dict`` entry is
unwrapped), and so do ``alignseg predict --weights`` and ``alignseg eval --weights``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..fileio import atomic_torch_save

__all__ = ["export_weights", "load_trained_model", "read_weights"]

_REQUIRED = ("model", "num_classes", "state_dict")


def export_weights(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    model_name: str,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    ignore_index: int = 255,
    **extra: Any,
) -> Path:
    """Write ``model`` (fp32 tensors on the CPU) and its label metadata to ``path`` atomically."""
    state = {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}
    state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    record = {
        "model": model_name,
        "num_classes": len(class_names),
        "class_names": list(class_names),
        "palette": [[int(c) for c in color] for color in palette],
        "ignore_index": int(ignore_index),
        "state_dict": state,
    }
    record.update(extra)
    return atomic_torch_save(record, path)


def read_weights(path: str | os.PathLike) -> dict[str, Any]:
    """Read an alignseg model checkpoint, or a training checkpoint (``.ckpt``) written by ``alignseg train``,
    as the export format above. Other files are returned as ``{"state_dict": ...}`` only."""
    from ..models.weights import read_state_dict

    source = os.fspath(path)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"weights file not found: {source}")
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise ValueError(f"cannot read weights file {source}: {error}") from error
    if isinstance(obj, dict) and all(key in obj for key in _REQUIRED) and isinstance(obj["model"], str):
        return obj
    if isinstance(obj, dict) and isinstance(obj.get("alignseg"), dict) and "state_dict" in obj:
        meta = obj["alignseg"]  # a Lightning checkpoint of alignseg.engine.SegmentationModule
        prefix = "model."
        state = {k[len(prefix):]: v for k, v in obj["state_dict"].items() if k.startswith(prefix)}
        return {**meta, "state_dict": state, "epoch": obj.get("epoch"), "step": obj.get("global_step")}
    return {"state_dict": read_state_dict(source)}


def load_trained_model(
    path: str | os.PathLike, model_name: str | None = None, num_classes: int | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model stored in ``path`` (see ``read_weights``) and load its weights strictly.

    ``model_name`` / ``num_classes`` are needed for files that do not record them, and must agree with
    files that do. Returns the model (in eval mode) and the file's metadata (without the state dict).
    """
    from ..models.factory import create_model
    from ..models.weights import load_strict

    source = os.fspath(path)
    record = read_weights(source)
    stored_name, stored_classes = record.get("model"), record.get("num_classes")
    if model_name is not None and stored_name is not None and model_name != stored_name:
        raise ValueError(f"{source} holds a {stored_name} model, not {model_name}")
    if num_classes is not None and stored_classes is not None and num_classes != stored_classes:
        raise ValueError(f"{source} holds a {stored_classes}-class model, but {num_classes} classes were asked for")
    name = stored_name or model_name
    classes = stored_classes or num_classes
    if name is None:
        raise ValueError(f"{source} does not say which model it holds: give the model name")
    state = record["state_dict"]
    if stored_name is None:  # a bare state dict: let create_model handle (and convert) it
        model = create_model(name, num_classes=classes or 19, pretrained=source)
    else:
        with_aux = any(key.startswith("aux_heads.") for key in state)
        model = create_model(name, num_classes=classes, aux_heads=with_aux)
        load_strict(model, state, source)
    meta = {key: value for key, value in record.items() if key != "state_dict"}
    return model.eval(), meta
