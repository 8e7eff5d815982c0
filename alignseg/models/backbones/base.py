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
