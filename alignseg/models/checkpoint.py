"""The alignseg weights format: tensors in safetensors, one metadata record as JSON in the file's header.

This module is the only place that writes or reads model weight files::

    model_best.safetensors
      tensors:  the model's state dict (fp32 on the CPU)
      header:   {"format": "alignseg", "alignseg": "<JSON of ModelRecord>"}

A safetensors file holds tensors and strings only, so reading one never runs code. Older files still
read: an alignseg ``.pt`` (a ``torch.save``'d dict with ``state_dict`` and the record's keys beside it), a
Lightning ``.ckpt`` written by ``alignseg train``, bare and released state dicts; all of them through
``torch.load(weights_only=True)``, which refuses pickled objects other than tensors and plain containers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..fileio import atomic_write
from .weights import WeightsError, strip_prefix

__all__ = [
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "Checkpoint",
    "ModelRecord",
    "read_checkpoint",
    "read_state_dict",
    "save_checkpoint",
]

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
"""The weights file of a ``save_pretrained`` folder (a folder given as weights means this file in it)."""
_WRAPPER_KEYS = ("state_dict", "model", "model_state", "net")
_SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
Color = tuple[int, int, int]


@dataclass(frozen=True)
class ModelRecord:
    """What a weights file says about the model it holds; ``None`` where it does not say.

    ``mean``/``std`` are the input normalisation (RGB in [0, 1]; ``None``: ImageNet's), ``input_size``
    the size an exported graph was traced at, ``config`` the training config, ``metrics`` e.g.
    ``{"val_miou": ...}``, ``source`` where the weights came from (a training run, a converted release).
    The same record travels in checkpoints, ``save_pretrained`` folders and exported ONNX/OpenVINO files.
    """

    model: str | None = None
    num_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    palette: tuple[Color, ...] | None = None
    ignore_index: int = 255
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    decoder_options: dict[str, Any] | None = None
    align_corners: bool | None = None
    input_size: tuple[int, int] | None = None
    config: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    source: str | None = None
    epoch: int | None = None
    step: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names, palette = self.class_names, self.palette
        if names is not None:
            object.__setattr__(self, "class_names", tuple(str(n) for n in names))
        if palette is not None:
            object.__setattr__(self, "palette", tuple((int(r), int(g), int(b)) for r, g, b in palette))
        for key in ("mean", "std", "input_size"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, tuple(int(v) if key == "input_size" else float(v) for v in value))
        if self.num_classes is None and names is not None:
            object.__setattr__(self, "num_classes", len(self.class_names))

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values, without the keys it does not know (``None``)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        record = {"format_version": FORMAT_VERSION, **self.extra}
        record.update({k: _plain(v) for k, v in values.items() if v is not None})
        return record

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelRecord:
        """Read a record (as written by ``to_dict``, or the entries of an older ``.pt`` checkpoint)."""
        values = dict(values)
        values.pop("format_version", None)
        if "val_miou" in values:  # the .pt writer kept the validation mIoU at the top level
            values.setdefault("metrics", {})
            values["metrics"] = {**(values["metrics"] or {}), "val_miou": values.pop("val_miou")}
        if "converted_from" in values:
            values.setdefault("source", values.pop("converted_from"))
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        extra = {k: v for k, v in values.items() if k not in known and not _holds_tensors(v)}
        fields = {k: v for k, v in values.items() if k in known}
        for key in ("num_classes", "ignore_index", "epoch", "step"):
            if fields.get(key) is not None:
                fields[key] = int(fields[key])
        return cls(**fields, extra={**values.get("extra", {}), **extra} if extra else {})

    @classmethod
    def from_json(cls, text: str, source: str = "the record") -> ModelRecord:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WeightsError(f"{source}: the alignseg metadata is not valid JSON ({exc})") from exc
        if not isinstance(values, Mapping):
            raise WeightsError(f"{source}: the alignseg metadata is not a JSON object")
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> ModelRecord:
        """A copy with ``changes`` (``None`` values are ignored: they would erase what is known)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively, so that a record compares equal after a JSON round trip."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Checkpoint:
    """A weights file read once: its flat state dict, its record and its path.

    Hand this on (``create_model(pretrained=checkpoint)``) instead of the path to read a file only once.
    """

    state_dict: dict[str, torch.Tensor]
    record: ModelRecord
    source: str


def save_checkpoint(path: str | os.PathLike, weights: nn.Module | Mapping[str, torch.Tensor],
                    record: ModelRecord | None = None, /, **fields: Any) -> Path:
    """Write the ``weights`` of a model (fp32 on the CPU) and ``record`` updated with ``fields`` (``model=``,
    ``class_names=``, ...: the record's fields) to ``path``.

    The file is safetensors, written atomically; ``align_corners`` is taken from the model when it has one.
    """
    record = (record or ModelRecord()).replace(**fields)
    if isinstance(weights, nn.Module):
        if record.align_corners is None and isinstance(getattr(weights, "align_corners", None), bool):
            record = record.replace(align_corners=weights.align_corners)
        weights = weights.state_dict()
    tensors = {}
    for key, value in weights.items():
        value = value.detach().to("cpu")
        tensors[key] = (value.float() if value.is_floating_point() else value).contiguous().clone()
    data = safetensors_bytes(tensors, metadata={"format": "alignseg", "alignseg": record.to_json()})
    return atomic_write(path, lambda stream: stream.write(data))


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a weights file once: its flat state dict and its record. Nothing is downloaded.

    A safetensors file is read as written by :func:`save_checkpoint` (a safetensors file of other tools
    gives an empty record). Any other file goes through ``torch.load(weights_only=True)``: a bare state
    dict, one wrapped under ``state_dict``/``model`` (older alignseg and released checkpoints, the entries
    beside it that hold no tensors being the record), or a Lightning checkpoint of ``alignseg train`` (the
    model's tensors under ``model.``, the record under ``alignseg``). The ``module.`` prefix of
    DistributedDataParallel is removed. A ``save_pretrained`` folder means its ``model.safetensors``.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, WEIGHTS_FILE)):
            raise WeightsError(f"{path!r} is a folder without {WEIGHTS_FILE}: not a save_pretrained folder")
        path = os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise WeightsError(f"weights file not found: {path!r} (alignseg never downloads weights; "
                           "give the path of a local file)")
    if _is_safetensors(path):
        state_dict, record = _read_safetensors(path)
    else:
        state_dict, record = _read_pickled(path)
    return Checkpoint(strip_prefix(state_dict, "module."), record, path)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The flat state dict of a weights file (see :func:`read_checkpoint`)."""
    return read_checkpoint(path).state_dict


def _is_safetensors(path: str) -> bool:
    """A safetensors file starts with the 8-byte little-endian length of a JSON header that opens with '{'."""
    with open(path, "rb") as stream:
        head = stream.read(9)
    if len(head) < 9:
        return False
    size = int.from_bytes(head[:8], "little")
    return 0 < size <= _SAFETENSORS_MAX_HEADER and head[8:9] == b"{"


def _read_safetensors(path: str) -> tuple[dict[str, torch.Tensor], ModelRecord]:
    try:
        with safe_open(path, framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state_dict = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise WeightsError(f"cannot read weights file {path!r}: {exc}") from exc
    text = metadata.get("alignseg")
    return state_dict, ModelRecord() if text is None else ModelRecord.from_json(text, path)


def _read_pickled(path: str) -> tuple[dict[str, torch.Tensor], ModelRecord]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt, unsafe or non-checkpoint files
        if isinstance(exc, pickle.UnpicklingError):
            reason = "it holds pickled objects other than tensors, which are never unpickled"
        else:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"cannot read weights file {path!r}: corrupt, truncated or holding pickled code "
                           f"(read with torch.load(weights_only=True), which refuses code): {reason}") from exc
    metadata: dict[str, Any] = {}
    if isinstance(obj, Mapping) and isinstance(obj.get("alignseg"), Mapping) and "state_dict" in obj:
        metadata = {**obj["alignseg"], "epoch": obj.get("epoch"), "step": obj.get("global_step")}
        metadata = {k: v for k, v in metadata.items() if v is not None}
        obj = {k.removeprefix("model."): v for k, v in obj["state_dict"].items() if k.startswith("model.")}
    elif isinstance(obj, Mapping):
        wrapper = next((key for key in _WRAPPER_KEYS if isinstance(obj.get(key), Mapping)), None)
        metadata = {k: v for k, v in obj.items() if k != wrapper and not _holds_tensors(v)}
        obj = obj if wrapper is None else obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path!r} does not hold a state dict (a mapping of names to tensors)")
    try:
        record = ModelRecord.from_dict(metadata)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{path!r}: unreadable model metadata ({exc})") from exc
    return dict(obj), record


def _holds_tensors(value: Any) -> bool:
    """Whether ``value`` is a tensor or a container with a tensor anywhere inside (optimiser states, ...)."""
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(_holds_tensors(v) for v in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return any(_holds_tensors(v) for v in value)
    return False
