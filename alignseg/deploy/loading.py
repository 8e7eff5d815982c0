"""Untrained models for the deployment tools (fresh weights, BatchNorm set from random images), and probes."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..models.factory import create_model
from ..models.segmentor import Segmentor


def random_model(name: str, *, num_classes: int | None = None, calibrate: bool = True, seed: int = 0) -> Segmentor:
    """Zoo model ``name`` in eval mode with fresh weights drawn from ``seed`` (the global random state is left
    as it was), for benchmarks and exports of an untrained network (trying things out; weights files are
    loaded by ``alignseg.models.factory.load_model``). ``calibrate`` sets its BatchNorm statistics from one
    batch of random images, so activations have trained-like magnitudes instead of the exploding ones of
    untouched statistics in deep residual networks.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(name, num_classes=num_classes or 19)
    if calibrate:
        calibrate_batchnorm(model, seed=seed)
    return model.eval()


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, size: tuple[int, int] = (256, 512), batch: int = 2, seed: int = 0) -> None:
    """Set every BatchNorm's running statistics to those of one batch of random images (in place)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in norms]
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, *size, generator=generator)
    was_training = model.training
    model.eval()
    for m in norms:
        m.momentum = 1.0
        m.train()
    model(images)
    for m, (momentum, training) in zip(norms, saved, strict=True):
        m.momentum = momentum
        m.train(training)
    model.train(was_training)


def num_classes_of(model: nn.Module) -> int:
    """The number of classes ``model`` predicts (the channels of its eval output, found on the meta device)."""
    probe = copy.deepcopy(model).to("meta").eval()
    channels = getattr(getattr(model, "backbone", None), "in_channels", 3)
    side = max(64, 2 * int(getattr(model, "output_stride", 32)))
    with torch.no_grad():
        return int(probe(torch.empty(1, channels, side, side, device="meta")).shape[1])
