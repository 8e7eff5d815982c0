"""The alignseg model checkpoint: a trained model with what is needed to use it, written atomically.

Format (a ``torch.save``'d dict, readable with ``torch.load(..., weights_only=True)``)::

    {"model": "sfnet_lite_r18", "num_classes": K, "class_names": [...], "palette": [[r, g, b], ...],
     "ignore_index": 255, "decoder_options": {...}, "state_dict": model.state_dict(),
     # extras, for the record: "epoch", "step", "val_miou", "config" (the training config as a dict)}

``alignseg.create_model(name, num_classes=K, pretrained=path)`` loads it (the ``state_dict`` entry is
unwrapped, the recorded ``decoder_options`` applied), and so do ``alignseg predict --weights`` and
``alignseg eval --weights``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from ..fileio import atomic_torch_save

__all__ = ["export_weights", "load_trained_model"]


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


def load_trained_model(
    path: str | os.PathLike, model_name: str | None = None, num_classes: int | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model stored in ``path`` and load its weights strictly.

    ``path`` is an alignseg checkpoint (the format above), a Lightning checkpoint of ``alignseg train`` or
    a bare/released state dict (see ``alignseg.models.weights.read_checkpoint``). ``model_name`` /
    ``num_classes`` are needed for files that do not record them, and must agree with files that do.
    Returns the model (in eval mode) and the file's metadata (without the state dict).
    """
    from ..models.factory import create_model
    from ..models.weights import read_checkpoint

    source = os.fspath(path)
    checkpoint = read_checkpoint(source)
    record = checkpoint.metadata
    stored_name, stored_classes = record.get("model"), record.get("num_classes")
    if model_name is not None and stored_name is not None and model_name != stored_name:
        raise ValueError(f"{source} holds a {stored_name} model, not {model_name}")
    if num_classes is not None and stored_classes is not None and num_classes != stored_classes:
        raise ValueError(f"{source} holds a {stored_classes}-class model, but {num_classes} classes were asked for")
    name = stored_name or model_name
    classes = stored_classes or num_classes
    if name is None:
        raise ValueError(f"{source} does not say which model it holds: give the model name")
    model = create_model(name, num_classes=classes or 19, pretrained=checkpoint)  # converts released files
    return model.eval(), record
