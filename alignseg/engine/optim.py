"""Optimiser and learning-rate schedule builders (plain PyTorch, used by the Lightning module).

- ``parameter_groups``: one group (the released SFNet code decays every parameter, BN and biases included)
  or two, with normalisation layers and biases exempt from weight decay; optionally split further by
  layer-wise learning-rate decay (ConvNeXt recipes, mmseg's rule).
- ``poly_factor`` / ``build_scheduler``: poly decay per iteration (paper) or the released per-epoch
  stair-case (spec sfnet.md 4.1), with an optional linear warm-up; stepped after every optimiser step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from .config import OptimConfig, ScheduleConfig

__all__ = ["NORM_LAYERS", "build_optimizer", "build_scheduler", "parameter_groups", "poly_factor"]

NORM_LAYERS = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
)


def parameter_groups(
    model: nn.Module,
    weight_decay: float,
    exempt_norm_and_bias: bool = False,
    *,
    layer_decay: float | None = None,
    layer_decay_type: str = "layer_wise",
    layer_decay_num_layers: int | None = None,
) -> list[dict]:
    """Trainable parameters as optimiser groups (each parameter listed once, even if shared).

    Without exemption every parameter is decayed; with it, all parameters of normalisation layers, every
    bias and the parameters a module names in ``no_weight_decay`` (ConvNeXt's layer scale) get weight
    decay 0. Without ``layer_decay``: one group ``all``, or ``decay`` / ``no_decay``.

    With ``layer_decay`` (a rate r ≤ 1) the learning rate also shrinks with depth, by the rule of mmseg's
    ``LearningRateDecayOptimizerConstructor`` (used by the ConvNeXt segmentation recipes): with N =
    ``layer_decay_num_layers`` (mmseg's ``paramwise_cfg.num_layers``; None: the smallest that fits the
    backbone), the backbone numbers each parameter's layer (``Backbone.lr_layer_id``, 0 = stem, up to N),
    everything outside the backbone is layer N + 1, and a parameter of layer i gets ``lr_scale =
    r ** (N + 1 − i)``, so the decoder trains at the full rate. Groups ``layer{i}_decay`` /
    ``layer{i}_no_decay`` (or ``layer{i}``) carry ``lr_scale``, highest first.
    """
    named: list[tuple[str, nn.Parameter, bool]] = []  # (name, parameter, decayed)
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        exempt_here = getattr(module, "no_weight_decay", ())
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            exempt = isinstance(module, NORM_LAYERS) or name.endswith("bias") or name in exempt_here
            named.append((f"{module_name}.{name}" if module_name else name, param,
                          not (exempt_norm_and_bias and exempt)))
    if layer_decay is None:
        if not exempt_norm_and_bias:
            return [{"name": "all", "params": [p for _, p, _ in named], "weight_decay": weight_decay}]
        groups = [
            {"name": "decay", "params": [p for _, p, d in named if d], "weight_decay": weight_decay},
            {"name": "no_decay", "params": [p for _, p, d in named if not d], "weight_decay": 0.0},
        ]
        return [g for g in groups if g["params"]]
    layer_of = _layer_numbering(model, layer_decay_type, layer_decay_num_layers)
    top = layer_of("")  # the decoder's layer, N + 1
    by_key: dict[tuple[int, bool], dict] = {}
    for name, param, decayed in named:
        layer = layer_of(name)
        suffix = ("_decay" if decayed else "_no_decay") if exempt_norm_and_bias else ""
        group = by_key.setdefault((layer, decayed), {
            "name": f"layer{layer}{suffix}", "params": [], "weight_decay": weight_decay if decayed else 0.0,
            "lr_scale": layer_decay ** (top - layer),
        })
        group["params"].append(param)
    return [by_key[key] for key in sorted(by_key, key=lambda k: (-k[0], not k[1]))]


def _layer_numbering(model: nn.Module, decay_type: str, num_layers: int | None) -> Callable[[str], int]:
    """name -> layer id for layer-wise decay: the backbone's numbering, ``N + 1`` outside the backbone."""
    backbone = getattr(model, "backbone", None)
    if backbone is None:
        raise ValueError(f"optim.layer_decay needs a model with a backbone; {type(model).__name__} has none")
    try:
        least = backbone.lr_min_num_layers(decay_type)
    except NotImplementedError as exc:
        raise ValueError(f"optim.layer_decay: {exc}") from None
    n = least if num_layers is None else num_layers
    if n < least:
        raise ValueError(f"optim.layer_decay_num_layers={n} is too small for {type(backbone).__name__} "
                         f"({decay_type}): at least {least}")

    def layer_of(name: str) -> int:
        if not name.startswith("backbone."):
            return n + 1
        return backbone.lr_layer_id(name[len("backbone."):], decay_type, n)

    return layer_of


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """SGD (momentum, optional Nesterov) or AdamW over ``parameter_groups(model, ...)``; with layer decay
    each group's lr is ``config.lr × lr_scale`` (the schedule then scales every group alike)."""
    groups = parameter_groups(model, config.weight_decay, config.no_decay_bn_bias, layer_decay=config.layer_decay,
                              layer_decay_type=config.layer_decay_type,
                              layer_decay_num_layers=config.layer_decay_num_layers)
    for group in groups:
        if "lr_scale" in group:
            group["lr"] = config.lr * group["lr_scale"]
    if config.name == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov)
    if config.name == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas))
    raise ValueError(f"unknown optimizer {config.name!r}; valid: sgd, adamw")


def poly_factor(
    step: int,
    *,
    total_steps: int,
    power: float,
    per: str = "iteration",
    steps_per_epoch: int = 1,
    warmup_iters: int = 0,
    warmup_ratio: float = 0.1,
) -> float:
    """Learning-rate multiplier for optimiser step ``step`` (0-based: the step about to run).

    - ``per="iteration"``: ``(1 − step/total_steps)^power``.
    - ``per="epoch"``: with ``E = ceil(total_steps / steps_per_epoch)`` epochs and ``e = step //
      steps_per_epoch`` (0-based), ``(1 − (e + 1)/E)^power``: epoch 0 runs at ``(1 − 1/E)^power`` and the
      last at 0, as the released code's LambdaLR stepped at the start of every epoch.
    During the first ``warmup_iters`` steps the factor is further multiplied by a ramp from
    ``warmup_ratio`` to 1.
    """
    if total_steps < 1 or steps_per_epoch < 1:
        raise ValueError(f"total_steps and steps_per_epoch must be positive, got {total_steps}, {steps_per_epoch}")
    if per == "iteration":
        progress = step / total_steps
    elif per == "epoch":
        epochs = math.ceil(total_steps / steps_per_epoch)
        progress = (step // steps_per_epoch + 1) / epochs
    else:
        raise ValueError(f"schedule.per must be 'iteration' or 'epoch', got {per!r}")
    factor = max(0.0, 1.0 - progress) ** power
    if step < warmup_iters:
        factor *= warmup_ratio + (1.0 - warmup_ratio) * step / warmup_iters
    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: ScheduleConfig, *, total_steps: int, steps_per_epoch: int
) -> LambdaLR:
    """A ``LambdaLR`` applying ``poly_factor``; call ``step()`` after every optimiser step."""

    def factor(step: int) -> float:
        return poly_factor(
            step,
            total_steps=total_steps,
            power=config.power,
            per=config.per,
            steps_per_epoch=steps_per_epoch,
            warmup_iters=config.warmup_iters,
            warmup_ratio=config.warmup_ratio,
        )

    return LambdaLR(optimizer, factor)
