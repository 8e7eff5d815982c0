"""``create_model``: a zoo model with fresh, alignseg or released weights from a local file."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from .convert import CONVERTERS
from .segmentor import Segmentor
from .weights import Checkpoint, load_strict, read_checkpoint
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
    ``backbone_pretrained`` is an ImageNet trunk (official or torchvision key names). ``aux_heads``
    adds deep-supervision heads; ``None`` follows the released recipe, or the checkpoint when one is given.
    ``decoder_options`` override the zoo entry's decoder arguments; ``None`` takes those an alignseg
    checkpoint recorded (a model trained with ``{"norm": "GN"}`` is rebuilt with it).
    """
    entry = get_entry(name)
    checkpoint = pretrained if pretrained is None or isinstance(pretrained, Checkpoint) else read_checkpoint(pretrained)
    source = None if checkpoint is None else checkpoint.source
    state_dict = None if checkpoint is None else checkpoint.state_dict
    own_format = state_dict is not None and all(key.startswith(_OWN_PREFIXES) for key in state_dict)
    if own_format and aux_heads is None:
        aux_heads = any(key.startswith("aux_heads.") for key in state_dict)
    if own_format and decoder_options is None:
        decoder_options = checkpoint.metadata.get("decoder_options")
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
        load_strict(model, state_dict, source)
        return model
    if entry.converter is None:
        raise ValueError(f"{source}: not an alignseg checkpoint, and {name} has no released checkpoints to convert")
    report = CONVERTERS[entry.converter](
        state_dict, model, backbone_name=entry.backbone, decoder_kind=entry.decoder, source=source
    )
    logger.warning("%s: %s", source, report.summary())
    return model
