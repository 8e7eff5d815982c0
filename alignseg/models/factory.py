"""``create_model`` and ``load_model``: a zoo model with fresh, alignseg or released weights from a local file."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import torch

from .checkpoint import Checkpoint, ModelRecord, read_checkpoint
from .convert import CONVERTERS
from .convert.checkpoint import infer_num_classes
from .segmentor import Segmentor
from .weights import WeightsError, load_strict
from .zoo import build_model, get_entry

logger = logging.getLogger(__name__)
_OWN_PREFIXES = ("backbone.", "decoder.", "aux_heads.")


def create_model(
    name: str,
    *,
    num_classes: int = 19,
    pretrained: str | os.PathLike | Checkpoint | None = None,
    backbone_pretrained: str | os.PathLike | None = None,
    aux_heads: bool | None = None,
    decoder_options: Mapping[str, Any] | None = None,
) -> Segmentor:
    """Build the zoo model ``name``; optionally load weights from local files (nothing is downloaded).

    ``pretrained`` is a whole-model checkpoint: an alignseg one, or a released checkpoint of the model's
    original code base, converted on the fly (the tensors it leaves out are logged, never silently); a
    ``Checkpoint`` already read with ``read_checkpoint`` is used as it is (the file is not read again).
    An alignseg checkpoint with another number of classes fine-tunes: everything but the classifiers
    (the tensors whose first dimension is the number of classes) is loaded, and one line says so.
    ``backbone_pretrained`` is an ImageNet trunk (official or torchvision key names) or a whole alignseg
    model, whose backbone is used. ``aux_heads`` adds deep-supervision heads; ``None`` follows the
    released recipe, or the checkpoint when one is given. ``decoder_options`` override the zoo entry's
    decoder arguments; ``None`` takes those an alignseg checkpoint recorded.
    """
    entry = get_entry(name)
    checkpoint = pretrained if pretrained is None or isinstance(pretrained, Checkpoint) else read_checkpoint(pretrained)
    source = None if checkpoint is None else checkpoint.source
    state_dict = None if checkpoint is None else checkpoint.state_dict
    own_format = state_dict is not None and all(key.startswith(_OWN_PREFIXES) for key in state_dict)
    if own_format and aux_heads is None:
        aux_heads = any(key.startswith("aux_heads.") for key in state_dict)
    if own_format and decoder_options is None:
        decoder_options = checkpoint.record.decoder_options
    model = build_model(
        name,
        num_classes=num_classes,
        backbone_pretrained=None if backbone_pretrained is None else os.fspath(backbone_pretrained),
        aux_heads=aux_heads,
        decoder_options=decoder_options,
    )
    if state_dict is None:
        return model
    if own_format:
        if not len(model.aux_heads):  # train-only heads are not needed by a model built without them
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith("aux_heads.")}
        state_dict = _keep_own_classifiers(model, state_dict, checkpoint.record.num_classes, num_classes, source)
        load_strict(model, state_dict, source)
        return model
    if entry.converter is None:
        raise ValueError(f"{source}: not an alignseg checkpoint, and {name} has no released checkpoints to convert")
    report = CONVERTERS[entry.converter](
        state_dict, model, backbone_name=entry.backbone, decoder_kind=entry.decoder, source=source
    )
    logger.warning("%s: %s", source, report.summary())
    return model


def _own_num_classes(name: str, checkpoint: Checkpoint) -> int:
    """The classes of an alignseg-format state dict without a record: the first dimension of the tensors that
    change with the number of classes (found by building the model twice on the meta device)."""
    options = checkpoint.record.decoder_options
    with torch.device("meta"):
        shapes = [{k: v.shape for k, v in build_model(name, num_classes=k, decoder_options=options,
                                                         aux_heads=False).state_dict().items()} for k in (3, 5)]
    keys = [k for k in shapes[0] if shapes[0][k] != shapes[1][k] and k in checkpoint.state_dict]
    if not keys:
        raise WeightsError(f"{checkpoint.source} does not give its number of classes: pass --num-classes K")
    return int(checkpoint.state_dict[keys[0]].shape[0])


def _keep_own_classifiers(model: Segmentor, state_dict: Mapping[str, torch.Tensor], stored_classes: int | None,
                          num_classes: int, source: str) -> dict[str, torch.Tensor]:
    """For fine-tuning to ``num_classes``: the model's fresh tensors in place of the checkpoint's classifiers.

    A classifier tensor is one whose first dimension is the checkpoint's number of classes where the model
    has ``num_classes`` and whose other dimensions agree (the decoder's classifier, the deep-supervision
    heads' last convs); anything else that does not fit is left to ``load_strict`` to report.
    """
    own = model.state_dict()
    if stored_classes is None:  # files without a record: the decoder's classifier says
        stored_classes = next((int(v.shape[0]) for k, v in state_dict.items()
                               if k in own and v.dim() and own[k].dim() == v.dim() and k.startswith("decoder.")
                               and own[k].shape[1:] == v.shape[1:] and own[k].shape[0] == num_classes
                               and v.shape[0] != num_classes), None)
    if stored_classes is None or stored_classes == num_classes:
        return dict(state_dict)
    replaced = [k for k, v in state_dict.items()
                if k in own and v.dim() and v.shape[0] == stored_classes and own[k].shape[0] == num_classes
                and v.shape[1:] == own[k].shape[1:]]
    if not replaced:
        return dict(state_dict)
    logger.warning("%s: fine-tuning from %d to %d classes: loaded every tensor but the classifiers (%s), "
                   "which start fresh", source, stored_classes, num_classes, ", ".join(replaced))
    return {**state_dict, **{k: own[k] for k in replaced}}


def load_model(
    weights: str | os.PathLike | Checkpoint, *, model: str | None = None, num_classes: int | None = None,
) -> tuple[Segmentor, ModelRecord]:
    """The model a weights file holds, in eval mode, with the file's record (one reader for every command).

    ``model`` / ``num_classes`` are needed for files that do not record them (bare or released state
    dicts) and must agree with files that do.
    """
    checkpoint = weights if isinstance(weights, Checkpoint) else read_checkpoint(weights)
    record, source = checkpoint.record, checkpoint.source
    if model is not None and record.model is not None and model != record.model:
        raise WeightsError(f"{source} holds a {record.model} model, not {model}")
    if num_classes is not None and record.num_classes is not None and num_classes != record.num_classes:
        raise WeightsError(f"{source} holds a {record.num_classes}-class model, but {num_classes} classes "
                           "were asked for")
    name = record.model or model
    if name is None:
        raise WeightsError(f"{source} does not name its model: pass --model NAME")
    classes = record.num_classes or num_classes
    if classes is None and all(key.startswith(_OWN_PREFIXES) for key in checkpoint.state_dict):
        classes = _own_num_classes(name, checkpoint)  # never a silent fine-tune of an unrecorded file
    if classes is None:
        converter = get_entry(name).converter
        if converter is None:
            raise WeightsError(f"{source} does not give its number of classes: pass --num-classes K")
        classes = infer_num_classes(checkpoint.state_dict, converter)
    network = create_model(name, num_classes=classes, pretrained=checkpoint)
    return network.eval(), record.replace(model=name, num_classes=classes)
