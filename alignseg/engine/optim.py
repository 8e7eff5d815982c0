"""Optimiser and learning-rate schedule builders (plain PyTorch, used by the Lightning module).

- ``parameter_groups``: one group (the released SFNet code decays every parameter, BN and biases included)
  or two, with normalisation layers and biases exempt from weight decay.
- ``poly_factor`` / ``build_scheduler``: poly decay per iteration (paper) or the released per-epoch
  stair-case (spec sfnet.md 4.1), with an optional linear warm-up; stepped after every optimiser step.
"""

from __future__ import annotations

import math

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


def parameter_groups(model: nn.Module, weight_decay: float, exempt_norm_and_bias: bool = False) -> list[dict]:
    """Trainable parameters as optimiser groups.

    Without exemption: one group, every parameter decayed. With it: ``decay`` (conv/linear weights) and
    ``no_decay`` (all parameters of normalisation layers, and every bias) with weight decay 0.
    A parameter shared by several modules is listed once.
    """
    if not exempt_norm_and_bias:
        params = [p for p in model.parameters() if p.requires_grad]
        return [{"name": "all", "params": params, "weight_decay": weight_decay}]
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            if isinstance(module, NORM_LAYERS) or name.endswith("bias"):
                no_decay.append(param)
            else:
                decay.append(param)
    groups = [
        {"name": "decay", "params": decay, "weight_decay": weight_decay},
        {"name": "no_decay", "params": no_decay, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """SGD (momentum, optional Nesterov) or AdamW over ``parameter_groups(model, ...)``."""
    groups = parameter_groups(model, config.weight_decay, config.no_decay_bn_bias)
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
