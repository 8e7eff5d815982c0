"""The criterion over named training outputs: weights by name and family, loss terms, the model's resize
convention, and one clear error for every name that does not fit."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import alignseg
from alignseg.losses import LOSS_TERMS, CrossEntropy, LossContext, build_criterion, loss_input
from alignseg.models.zoo import LossDefaults

IGNORE = 255
DEFAULTS = LossDefaults()  # dsn: 0.4


def constant_logits(values: list[float], size: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1).expand(2, -1, size, size).clone()


def criterion(defaults=DEFAULTS, **config):
    return build_criterion(defaults, num_classes=4, align_corners=True, ignore_index=IGNORE, **config)


def labels_with_ignored(size: int = 16) -> torch.Tensor:
    labels = torch.zeros(2, size, size, dtype=torch.long)
    labels[:, :2] = IGNORE
    return labels


UNIFORM = [0, 0, 0, 0]  # CE = log 4 for every label
HALF = [math.log(3), 0, 0, 0]  # p(label 0) = 3/6: CE = log 2


def test_total_is_main_plus_weighted_aux_with_parts_named_by_output():
    outputs = {
        "out": constant_logits(UNIFORM, 4),
        "aux": {"dsn_0": constant_logits(UNIFORM, 2), "dsn_1": constant_logits(HALF, 8),
                "teacher": constant_logits(HALF, 4)},
        "loss_inputs": {},
    }
    total, parts = criterion(aux_weights={"teacher": 3.0, "dsn_1": 2.0})(outputs, labels_with_ignored())
    expected = math.log(4) + 0.4 * math.log(4) + 2.0 * math.log(2) + 3.0 * math.log(2)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert list(parts) == ["main", "dsn_0", "dsn_1", "teacher"]
    assert parts["dsn_1"].item() == pytest.approx(math.log(2), rel=1e-6)
    assert not any(p.requires_grad for p in parts.values())


@pytest.mark.parametrize(("aux_weights", "expected"), [(None, 0.4), (1.5, 1.5), ([0.5, 2.0], None)])
def test_scalar_and_list_shorthands_weigh_the_deep_supervision_heads(aux_weights, expected):
    outputs = {"out": constant_logits(UNIFORM, 4),
               "aux": {"dsn_0": constant_logits(UNIFORM, 4), "dsn_1": constant_logits(HALF, 4)}}
    total, _ = criterion(aux_weights=aux_weights)(outputs, labels_with_ignored())
    if expected is None:
        value = math.log(4) + 0.5 * math.log(4) + 2.0 * math.log(2)
    else:
        value = math.log(4) + expected * (math.log(4) + math.log(2))
    assert total.item() == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("align_corners", [True, False])
def test_every_output_is_resized_to_the_labels_with_the_model_convention(align_corners):
    labels = torch.randint(0, 3, (1, 32, 32))
    out, aux = torch.randn(1, 3, 8, 8, requires_grad=True), torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = build_criterion(DEFAULTS, num_classes=3, align_corners=align_corners, aux_weights=0.5)
    total, _ = loss({"out": out, "aux": {"dsn_0": aux}}, labels)

    def ce_at_label_size(logits, corners=align_corners):
        up = F.interpolate(logits, size=(32, 32), mode="bilinear", align_corners=corners)
        return F.cross_entropy(up, labels)

    assert torch.allclose(total, ce_at_label_size(out) + 0.5 * ce_at_label_size(aux), atol=1e-6)
    other = ce_at_label_size(out, not align_corners) + 0.5 * ce_at_label_size(aux, not align_corners)
    assert not torch.allclose(total, other, atol=1e-4)
    total.backward()
    assert out.grad is not None and aux.grad is not None


def test_without_aux_outputs_the_scalar_shorthand_is_harmless_and_the_loss_is_the_main_loss():
    logits, labels = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))
    total, parts = criterion(aux_weights=0.4, name="ohem", kwargs={"min_kept": 10})(
        {"out": logits, "aux": {}, "loss_inputs": {}}, labels)
    assert torch.equal(total, build_criterion(None, num_classes=4, align_corners=True, name="ohem",
                                              kwargs={"min_kept": 10})({"out": logits}, labels)[0])
    assert set(parts) == {"main"}


def test_criterion_equals_the_released_deep_supervision_sum_on_sfnet():
    """The old DeepSupervisionLoss was CE(out) + Σ_i 0.4 · CE(aux_i), summed in this order: the benchmark
    rows trained with it stay valid only if the new criterion gives exactly the same number."""
    torch.manual_seed(0)
    model = alignseg.create_model("sfnet_df1", num_classes=5).train()
    labels = torch.randint(0, 5, (2, 64, 64))
    labels[0, :10] = IGNORE
    outputs = model(torch.randn(2, 3, 64, 64))
    assert list(outputs["aux"]) == ["dsn_0", "dsn_1"]
    ce = CrossEntropy(IGNORE)
    expected = ce(outputs["out"], labels)
    for logits in outputs["aux"].values():
        expected = expected + 0.4 * ce(logits, labels)
    loss = build_criterion(alignseg.models.zoo.get_entry("sfnet_df1").loss_defaults, num_classes=5,
                           align_corners=model.align_corners, aux_weights=0.4)
    assert torch.equal(loss(outputs, labels)[0], expected)


# ---------------------------------------------------------------------------------------- errors


def test_list_weights_must_match_the_number_of_heads():
    outputs = {"out": torch.randn(1, 2, 4, 4), "aux": {f"dsn_{i}": torch.randn(1, 2, 4, 4) for i in range(3)}}
    with pytest.raises(ValueError, match=r"3 deep-supervision outputs but loss\.aux_weights lists 2"):
        criterion(aux_weights=[1.0, 1.0])(outputs, torch.zeros(1, 4, 4, dtype=torch.long))


def test_an_aux_output_without_a_weight_is_an_error():
    outputs = {"out": torch.randn(1, 2, 4, 4), "aux": {"teacher": torch.randn(1, 2, 4, 4)}}
    with pytest.raises(ValueError, match=r"aux output 'teacher' but no loss weight.*loss\.aux_weights\.teacher"):
        criterion()(outputs, torch.zeros(1, 4, 4, dtype=torch.long))


def test_a_configured_weight_for_an_output_the_model_lacks_is_an_error():
    outputs = {"out": torch.randn(1, 2, 4, 4), "aux": {"dsn_0": torch.randn(1, 2, 4, 4)}}
    with pytest.raises(ValueError, match=r"loss\.aux_weights names \['teacher'\].*its aux outputs: \['dsn_0'\]"):
        criterion(aux_weights={"teacher": 1.0})(outputs, torch.zeros(1, 4, 4, dtype=torch.long))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"name": "focus"}, r"unknown loss\.name 'focus'"),
        ({"kwargs": {"thresh": 0.7}}, r"loss\.kwargs \{'thresh': 0\.7\} do not fit loss 'ce'"),
        ({"aux_weights": "dsn"}, r"loss\.aux_weights must be"),
        ({"terms": {"nope": {}}}, r"unknown loss term 'nope' in loss\.terms"),
        ({"term_weights": {"car_intra": 1.0}}, r"loss\.term_weights names \['car_intra'\], which no loss term"),
        ({"class_weights": [1.0, 2.0]}, r"loss\.class_weights has 2 entries for 4 classes"),
    ],
)
def test_bad_loss_settings_name_the_key(config, message):
    with pytest.raises(ValueError, match=message):
        criterion(**config)


# ------------------------------------------------------------------------------------ loss terms


class MeanTerm(nn.Module):
    """A test term: the mean of loss input "feat" times ``scale``, and its square."""

    parts = ("t_mean", "t_square")

    def __init__(self, context: LossContext, scale: float = 1.0) -> None:
        super().__init__()
        self.context, self.scale = context, scale

    def forward(self, outputs, labels):
        mean = self.scale * loss_input(outputs, "feat", self).mean()
        return {"t_mean": mean, "t_square": mean**2}


@pytest.fixture
def mean_term(monkeypatch):
    monkeypatch.setitem(LOSS_TERMS, "mean", MeanTerm)
    return LossDefaults(terms={"mean": {"scale": 2.0}}, term_weights={"t_mean": 1.0, "t_square": 0.5})


def test_a_registered_term_reads_its_loss_input_and_each_part_is_weighted(mean_term):
    outputs = {"out": constant_logits(UNIFORM, 4), "aux": {}, "loss_inputs": {"feat": torch.full((2, 3), 3.0)}}
    loss = criterion(mean_term, term_weights={"t_square": 0.25})
    assert loss.terms["mean"].context == LossContext(4, IGNORE, True, None)
    total, parts = loss(outputs, labels_with_ignored())
    assert total.item() == pytest.approx(math.log(4) + 6.0 + 0.25 * 36.0, rel=1e-6)
    assert list(parts) == ["main", "t_mean", "t_square"]
    assert criterion(mean_term, terms={"mean": {"scale": 1.0}})(outputs, labels_with_ignored())[1]["t_mean"] == 3.0


def test_config_can_remove_a_term_of_the_entry(mean_term):
    loss = criterion(mean_term, terms={"mean": None})
    assert len(loss.terms) == 0
    assert set(loss({"out": constant_logits(UNIFORM, 4)}, labels_with_ignored())[1]) == {"main"}


def test_term_errors_are_clear(mean_term):
    with pytest.raises(ValueError, match=r"no weight for loss-term part\(s\) \['t_square'\]"):
        criterion(LossDefaults(terms={"mean": {}}, term_weights={"t_mean": 1.0}))
    with pytest.raises(ValueError, match=r"loss\.terms\.mean .*'scal': 1\} do not fit the term"):
        criterion(mean_term, terms={"mean": {"scal": 1}})
    with pytest.raises(ValueError, match=r"MeanTerm reads loss_inputs\['feat'\], but the model returns no loss"):
        criterion(mean_term)({"out": constant_logits(UNIFORM, 4), "loss_inputs": {}}, labels_with_ignored())
