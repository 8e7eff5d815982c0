"""Convert a released checkpoint file into an alignseg checkpoint file for a zoo model."""

from __future__ import annotations

import os

from ..checkpoint import read_state_dict, save_checkpoint
from ..zoo import build_model, get_entry
from . import CONVERTERS
from .report import ConversionReport

# Official classifier weights, whose first dimension is the number of classes, per source code base.
_CLASSIFIER_KEYS = {
    "sfsegnets": ("head.conv_last.1.weight",),
    "fapn": ("sem_seg_head.coarse_sem_seg_head.predictor.weight", "sem_seg_head.predictor.weight"),
}


def infer_num_classes(state_dict: dict, source: str) -> int:
    """Read the number of classes from the classifier of a released checkpoint."""
    for key in _CLASSIFIER_KEYS.get(source, ()):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    raise ValueError(f"cannot infer the number of classes of a {source!r} checkpoint: "
                     f"none of {_CLASSIFIER_KEYS.get(source, ())} is in it; pass num_classes")


def convert_checkpoint(
    source: str, input_path: str | os.PathLike, output_path: str | os.PathLike, model_name: str,
    num_classes: int | None = None,
) -> ConversionReport:
    """Read ``input_path`` (a checkpoint of code base ``source``), map it onto ``model_name``, save it.

    The output is an alignseg weights file (``alignseg.models.checkpoint``) recording the model name, the
    number of classes and the source; ``alignseg.load_model(output_path)`` loads it.
    """
    if source not in CONVERTERS:
        raise ValueError(f"unknown checkpoint source {source!r}; valid: {', '.join(CONVERTERS)}")
    entry = get_entry(model_name)
    if entry.converter != source:
        raise ValueError(f"{model_name} has no released {source!r} checkpoints "
                         f"(its converter is {entry.converter!r})")
    path = os.fspath(input_path)
    state_dict = read_state_dict(path)
    classes = num_classes if num_classes is not None else infer_num_classes(state_dict, source)
    has_aux = any(".dsn." in key for key in state_dict)
    model = build_model(model_name, num_classes=classes, aux_heads=has_aux and entry.decoder == "aligned_fpn")
    report = CONVERTERS[source](state_dict, model, backbone_name=entry.backbone, decoder_kind=entry.decoder,
                                source=path)
    save_checkpoint(output_path, model, model=model_name, num_classes=classes,
                    source=f"converted from {source}:{os.path.basename(path)}")
    return report
