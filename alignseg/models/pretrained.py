"""``save_pretrained``: a model as a self-describing folder (Hugging-Face style), loadable offline.

::

    folder/
      model.safetensors   the weights and the record (the alignseg weights format)
      config.json         the record as readable JSON: model name, classes, palette, normalisation, ...
      README.md           a model card: what the model is, its classes, metrics, training config and source

``alignseg.Predictor.from_pretrained(folder)`` and ``alignseg.load_model(folder)`` read it back; every
command takes the folder as ``--weights``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from ..fileio import atomic_write
from .checkpoint import WEIGHTS_FILE, ModelRecord, save_checkpoint
from .weights import WeightsError

__all__ = ["CARD_FILE", "CONFIG_FILE", "model_card", "save_pretrained"]

CONFIG_FILE = "config.json"
CARD_FILE = "README.md"


def save_pretrained(network: nn.Module, folder: str | os.PathLike, record: ModelRecord | None = None, /,
                    **fields: Any) -> Path:
    """Write the ``network`` with ``record`` (updated with ``fields``: ``model=`` the zoo name,
    ``class_names=``, ``palette=``, ``metrics=``, ``config=``, ``source=``...) as a folder; returns the folder."""
    # the network's resize convention, unless it has none (replace ignores None: the record's value stays)
    record = (record or ModelRecord()).replace(**fields, align_corners=getattr(network, "align_corners", None))
    if record.model is None:
        raise WeightsError("save_pretrained needs the zoo name of the model: pass model='sfnet_lite_r18' (or a record)")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    save_checkpoint(target / WEIGHTS_FILE, network, record)
    text = json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(target / CONFIG_FILE, lambda stream: stream.write(text.encode()))
    card = model_card(record, sum(p.numel() for p in network.parameters()))
    atomic_write(target / CARD_FILE, lambda stream: stream.write(card.encode()))
    return target


def model_card(record: ModelRecord, parameters: int) -> str:
    """The README of a ``save_pretrained`` folder, in Markdown."""
    lines = [f"# {record.model} ({record.num_classes} classes)", "",
             f"An alignseg semantic segmentation model: `{record.model}`, "
             f"{parameters:,} parameters, weights in `{WEIGHTS_FILE}` (safetensors), everything below also in "
             f"`{CONFIG_FILE}`.", "", "## Use", "", "```python", "import alignseg", "",
             'predictor = alignseg.Predictor.from_pretrained("path/to/this/folder")',
             'prediction = predictor("image.jpg")      # .label: H x W class ids', "```", "",
             "or `alignseg predict image.jpg --weights path/to/this/folder -o out/`.", ""]
    if record.source:
        lines += ["## Source", "", str(record.source), ""]
    if record.metrics:
        lines += ["## Metrics", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {key} | {_number(value)} |" for key, value in record.metrics.items()]
        lines.append("")
    if record.class_names:
        lines += ["## Classes", "", "| id | class | colour |", "|---:|---|---|"]
        palette = record.palette or ()
        for index, name in enumerate(record.class_names):
            colour = "#{:02x}{:02x}{:02x}".format(*palette[index]) if index < len(palette) else ""
            lines.append(f"| {index} | {name} | {colour} |")
        lines.append("")
    mean = list(record.mean) if record.mean else "ImageNet's"
    std = list(record.std) if record.std else "ImageNet's"
    lines += ["## Input", "", f"RGB in [0, 1], normalised with mean {mean} and std {std}; "
              f"ignore index {record.ignore_index}; final resize align_corners={record.align_corners}.", ""]
    if record.decoder_options:
        lines += [f"Decoder options: `{json.dumps(record.decoder_options, sort_keys=True)}`.", ""]
    if record.config:
        lines += ["## Training config", "", "```json", json.dumps(record.config, indent=2, sort_keys=True,
                                                                  default=str), "```", ""]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
