"""The backbone contract: what every backbone reports about the features it returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FeatureInfo:
    """Channels and stride (input pixels per feature pixel) of one backbone output."""

    channels: int
    stride: int


class Backbone(nn.Module):
    """A feature extractor returning a list of maps ordered from high resolution to low.

    Subclasses set ``feature_info`` (one entry per returned map, same order) in ``__init__`` so that
    decoders are built from it and never hard-code channel lists.
    """

    feature_info: list[FeatureInfo]
    in_channels: int = 3

    @property
    def channels(self) -> list[int]:
        return [f.channels for f in self.feature_info]

    @property
    def strides(self) -> list[int]:
        return [f.stride for f in self.feature_info]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def lr_min_num_layers(self, decay_type: str) -> int:
        """For layer-wise lr decay: the smallest layer count that numbers every backbone layer (see
        :meth:`lr_layer_id`). Backbones without a layer numbering raise ``NotImplementedError``."""
        raise NotImplementedError(f"{type(self).__name__} has no layer numbering for layer-wise learning-rate "
                                  "decay (ConvNeXt backbones have one)")

    def lr_layer_id(self, name: str, decay_type: str, num_layers: int) -> int:
        """For layer-wise lr decay: the layer id (0 = stem … ``num_layers``; ``num_layers + 1`` = trained at
        the decoder's rate) of the backbone parameter ``name``. Raises ``NotImplementedError`` by default."""
        raise NotImplementedError(f"{type(self).__name__} has no layer numbering for layer-wise learning-rate "
                                  "decay (ConvNeXt backbones have one)")

    @classmethod
    def remap_pretrained(
        cls, state_dict: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Rename the keys of a third-party checkpoint (official or torchvision names) to ours.

        Returns the renamed state dict and the source keys dropped on purpose (ImageNet classifiers,
        aliases), so callers can report them instead of losing them silently. The default is the
        identity; backbones whose published weights use other names override it.
        """
        return dict(state_dict), []
