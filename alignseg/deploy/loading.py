"""The model a deployment tool works on: a zoo model with a checkpoint's weights, or fresh weights."""

from __future__ import annotations

import copy
import os

import torch
from torch import nn

from ..models.factory import create_model
from ..models.segmentor import Segmentor
from ..models.weights import read_checkpoint


def load_model(
    name: str,
    *,
    weights: str | os.PathLike | None = None,
    num_classes: int | None = None,
    random_init: bool = False,
    calibrate: bool = True,
    seed: int = 0,
) -> Segmentor:
    """Build zoo model ``name`` in eval mode with the weights of a checkpoint, or fresh ones.

    A checkpoint's ``model`` entry must name the same zoo model, and its ``num_classes`` is used unless
    ``num_classes`` is given. Without weights, ``random_init`` must be set (a benchmark or export of an
    untrained network is only for trying things out); its BatchNorm statistics are then set from one
    batch of random images (``calibrate``), so activations have trained-like magnitudes instead of the
    exploding ones of untouched statistics in deep residual networks. Fresh weights are drawn from
    ``seed`` (the global random state is left as it was), so repeated runs build the same network.
    """
    if weights is None and not random_init:
        raise ValueError("give --weights CHECKPOINT, or --random-init to try the tool with fresh, untrained weights")
    if weights is not None and random_init:
        raise ValueError("--weights and --random-init exclude each other")
    if weights is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_model(name, num_classes=num_classes or 19)
        if calibrate:
            calibrate_batchnorm(model, seed=seed)
        return model.eval()
    checkpoint = read_checkpoint(weights)
    meta = checkpoint.metadata
    stored = meta.get("model")
    if stored is not None and stored != name:
        raise ValueError(f"{os.fspath(weights)!r} holds weights of {stored!r}, not {name!r}")
    classes = num_classes if num_classes is not None else int(meta.get("num_classes", 19))
    return create_model(name, num_classes=classes, pretrained=checkpoint).eval()


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
