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


# -- layer-wise learning-rate decay (mmseg's ConvNeXt rules) -------------------------------------------------

def tiny_convnext_segmentor():
    from alignseg.models.backbones.convnext import ConvNeXt
    from alignseg.models.decoders import FCNDecoder
    from alignseg.models.segmentor import Segmentor

    backbone = ConvNeXt((1, 1, 4, 1), (8, 8, 8, 8))
    return Segmentor(backbone, FCNDecoder(backbone.channels, 3, channels=4))


def expected_layer(name: str, decay_type: str, n: int) -> int:
    """Hand-written table of the layer ids of tiny_convnext_segmentor (depths 1, 1, 4, 1)."""
    table = {  # name prefix -> (layer_wise id, stage_wise id); None = the decoder's id n + 1
        "backbone.stem.": (0, 0),
        "backbone.stages.0.blocks.0.": (1, 1),
        "backbone.stages.1.downsample.": (2, 0),
        "backbone.stages.1.blocks.0.": (2, 2),
        "backbone.stages.2.downsample.": (3, 0),
        "backbone.stages.2.blocks.0.": (3, 3),
        "backbone.stages.2.blocks.1.": (3, 3),
        "backbone.stages.2.blocks.2.": (3, 3),
        "backbone.stages.2.blocks.3.": (4, 3),
        "backbone.stages.3.downsample.": (None, 0),  # layer_wise: stage 3 is layer N
        "backbone.stages.3.blocks.0.": (None, 4),
    }
    for prefix, ids in table.items():
        if name.startswith(prefix):
            layer = ids[0 if decay_type == "layer_wise" else 1]
            return n if layer is None else layer
    return n + 1  # backbone.norm{i} (new output norms) and the decoder


@pytest.mark.parametrize(("decay_type", "num_layers", "n"), [
    ("layer_wise", None, 5),  # 3 + ceil(4 / 3)
    ("layer_wise", 7, 7),
    ("stage_wise", None, 4),
    ("stage_wise", 6, 6),  # mmseg's ConvNeXt-T recipe: paramwise_cfg num_layers=6
])
def test_layer_decay_gives_every_parameter_its_hand_computed_lr(decay_type, num_layers, n):
    model = tiny_convnext_segmentor()
    config = OptimConfig(name="adamw", lr=0.1, weight_decay=0.05, no_decay_bn_bias=True, layer_decay=0.5,
                         layer_decay_type=decay_type, layer_decay_num_layers=num_layers)
    optimizer = build_optimizer(model, config)
    setting = {id(p): (g["lr"], g["weight_decay"]) for g in optimizer.param_groups for p in g["params"]}
    assert len(setting) == len(list(model.parameters()))
    for name, param in model.named_parameters():
        lr, wd = setting[id(param)]
        assert lr == pytest.approx(0.1 * 0.5 ** (n + 1 - expected_layer(name, decay_type, n))), name
        exempt = param.dim() == 1  # biases, LayerNorm/BN parameters and ConvNeXt's layer scale gamma
        assert wd == (0.0 if exempt else 0.05), name
    assert optimizer.param_groups[0]["lr"] == 0.1  # the decoder's group first: logged lr = base lr
    # the poly schedule scales every group alike
    scheduler = build_scheduler(optimizer, ScheduleConfig(power=1.0), total_steps=4, steps_per_epoch=4)
    optimizer.step()
    scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx(
        [0.75 * 0.1 * g["lr_scale"] for g in optimizer.param_groups])


def test_layer_decay_without_exemption_decays_all_and_names_groups_by_layer():
    groups = parameter_groups(tiny_convnext_segmentor(), 0.05, layer_decay=0.9)
    assert [g["name"] for g in groups] == [f"layer{i}" for i in (6, 5, 4, 3, 2, 1, 0)]
    assert all(g["weight_decay"] == 0.05 for g in groups)
    assert groups[-1]["lr_scale"] == pytest.approx(0.9 ** 6)


def test_layer_decay_on_a_backbone_without_numbering_is_a_clear_error():
    import alignseg

    model = alignseg.create_model("fcn_r18", num_classes=3)
    with pytest.raises(ValueError, match="ResNet has no layer numbering"):
        build_optimizer(model, OptimConfig(layer_decay=0.9))
    with pytest.raises(ValueError, match="at least 5"):
        parameter_groups(tiny_convnext_segmentor(), 0.0, layer_decay=0.9, layer_decay_num_layers=4)
    with pytest.raises(ValueError, match="needs a model with a backbone"):
        parameter_groups(Tiny(), 0.0, layer_decay=0.9)
