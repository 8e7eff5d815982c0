"""Backbones by name, and the one place where their pretrained weights are loaded from local files."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from ..weights import WeightsError, load_strict, read_state_dict
from .base import Backbone, FeatureInfo
from .convnext import ConvNeXt, convnext_base, convnext_large, convnext_small, convnext_tiny
from .dfnet import DFNet1, DFNet2, df1, df2
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101
from .stdc import STDCNet, stdc1, stdc2

__all__ = [
    "BACKBONES", "Backbone", "ConvNeXt", "DFNet1", "DFNet2", "FeatureInfo", "ResNet", "STDCNet", "UnknownBackboneError",
    "build_backbone",
]

logger = logging.getLogger(__name__)

BACKBONES: dict[str, Callable[..., Backbone]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "stdc1": stdc1,
    "stdc2": stdc2,
    "df1": df1,
    "df2": df2,
    "convnext_tiny": convnext_tiny,
    "convnext_small": convnext_small,
    "convnext_base": convnext_base,
    "convnext_large": convnext_large,
}


class UnknownBackboneError(KeyError, ValueError):
    """A backbone name that is not in :data:`BACKBONES` (catchable as KeyError or ValueError)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def build_backbone(name: str, *, pretrained: str | os.PathLike | None = None, **kwargs: Any) -> Backbone:
    """Build the backbone ``name`` with ``kwargs`` and optionally load weights from a local file.

    The file may use official or torchvision names: ``remap_pretrained`` renames them, keys dropped on
    purpose (ImageNet classifiers, aliases) are logged, and anything else that does not fit raises one
    :class:`~alignseg.models.weights.WeightsError` naming the file and the first mismatched keys.
    """
    if name not in BACKBONES:
        raise UnknownBackboneError(f"unknown backbone {name!r}; valid names: {', '.join(BACKBONES)}")
    model = BACKBONES[name](**kwargs)
    if pretrained is not None:
        path = os.fspath(pretrained)
        source = read_state_dict(path)
        try:
            state_dict, dropped = model.remap_pretrained(source)
        except WeightsError as exc:
            raise WeightsError(f"weights file {path!r}: {exc}") from exc
        load_strict(model, state_dict, source=path)
        if dropped:
            logger.info("%s: loaded %s, ignoring %d unused keys (%s)", name, path, len(dropped),
                        ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else ""))
    return model
