"""Optimiser parameter groups and the poly schedules, against hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from alignseg.engine.config import OptimConfig, ScheduleConfig
from alignseg.engine.optim import build_optimizer, build_scheduler, parameter_groups, poly_factor


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)  # weight decayed, bias exempt
        self.bn = nn.BatchNorm2d(4)  # both exempt
        self.head = nn.Conv2d(4, 2, 1, bias=False)
        self.norm = nn.GroupNorm(1, 2)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def names(model, params):
    lookup = {id(p): n for n, p in model.named_parameters()}
    return sorted(lookup[id(p)] for p in params)


def test_one_group_decays_everything_as_released():
    model = Tiny()
    (group,) = parameter_groups(model, 1e-4)
    assert group["weight_decay"] == 1e-4
    assert names(model, group["params"]) == sorted(n for n, p in model.named_parameters() if p.requires_grad)


def test_norm_layers_and_biases_exempt_from_decay():
    model = Tiny()
    decay, no_decay = parameter_groups(model, 5e-4, exempt_norm_and_bias=True)
    assert (decay["name"], decay["weight_decay"]) == ("decay", 5e-4)
    assert (no_decay["name"], no_decay["weight_decay"]) == ("no_decay", 0.0)
    assert names(model, decay["params"]) == ["conv.weight", "head.weight"]
    assert names(model, no_decay["params"]) == ["bn.bias", "bn.weight", "conv.bias", "norm.bias", "norm.weight"]


def test_exemption_on_a_zoo_model_covers_every_parameter_once():
    import alignseg

    model = alignseg.create_model("sfnet_lite_stdc1", num_classes=3)
    groups = parameter_groups(model, 1e-4, exempt_norm_and_bias=True)
    listed = [id(p) for g in groups for p in g["params"]]
    assert len(listed) == len(set(listed)) == len(list(model.parameters()))
    assert all(p.dim() == 1 for p in groups[1]["params"])  # BN weights/biases and conv biases only


def test_build_optimizer_sgd_and_adamw():
    model = Tiny()
    sgd = build_optimizer(model, OptimConfig(name="sgd", lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4))
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.param_groups[0]["nesterov"] and sgd.param_groups[0]["momentum"] == 0.9
    adamw = build_optimizer(model, OptimConfig(name="adamw", lr=1e-3, betas=[0.8, 0.99], no_decay_bn_bias=True))
    assert isinstance(adamw, torch.optim.AdamW) and len(adamw.param_groups) == 2
    assert adamw.param_groups[0]["betas"] == (0.8, 0.99)


def run_schedule(config: ScheduleConfig, total: int, per_epoch: int, base: float = 0.01) -> list[float]:
    """Learning rates of the optimiser steps 0..total-1 as Lightning runs them (scheduler stepped after each)."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base)
    scheduler = build_scheduler(optimizer, config, total_steps=total, steps_per_epoch=per_epoch)
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_per_epoch_staircase_as_released():
    # E = 4 epochs of 3 steps: epochs run at base * 3/4, 2/4, 1/4 and 0 (lr set at each epoch start).
    rates = run_schedule(ScheduleConfig(power=1.0, per="epoch"), total=12, per_epoch=3)
    expected = [0.01 * f for f in (0.75, 0.5, 0.25, 0.0) for _ in range(3)]
    assert rates == pytest.approx(expected, abs=1e-12)


def test_per_epoch_staircase_with_power():
    rates = run_schedule(ScheduleConfig(power=0.9, per="epoch"), total=8, per_epoch=4)
    assert rates == pytest.approx([0.01 * 0.5**0.9] * 4 + [0.0] * 4)


def test_per_iteration_poly_as_in_the_paper():
    rates = run_schedule(ScheduleConfig(power=0.9, per="iteration"), total=5, per_epoch=2)
    assert rates == pytest.approx([0.01 * (1 - i / 5) ** 0.9 for i in range(5)])
    assert rates[0] == 0.01


def test_warmup_ramps_up_then_follows_poly():
    config = ScheduleConfig(power=1.0, per="iteration", warmup_iters=4, warmup_ratio=0.2)
    rates = run_schedule(config, total=10, per_epoch=10, base=1.0)
    for step in range(4):
        assert rates[step] == pytest.approx((1 - step / 10) * (0.2 + 0.8 * step / 4))
    assert rates[4:] == pytest.approx([1 - s / 10 for s in range(4, 10)])


def test_poly_factor_arguments():
    assert poly_factor(10, total_steps=10, power=0.9) == 0.0
    assert poly_factor(20, total_steps=10, power=1.0) == 0.0  # clamped, never negative
    assert poly_factor(0, total_steps=10, power=1.0, per="epoch", steps_per_epoch=3) == pytest.approx(1 - 1 / 4)
    with pytest.raises(ValueError, match="per"):
        poly_factor(0, total_steps=10, power=1.0, per="week")
