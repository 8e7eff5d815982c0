"""Zoo models equal the released code in parameters and MACs, and behave as a segmentation model should."""

from __future__ import annotations

import pytest
import torch

import alignseg
from alignseg.deploy.complexity import count_macs, count_parameters
from alignseg.models.zoo import ZOO, get_entry

RELEASED = [name for name, entry in ZOO.items() if entry.released is not None]

# The issue's figures, written out literally so a change of the zoo table cannot move both sides.
ISSUE_PARAMS = {
    "sfnet_r18": 12_869_715, "sfnet_r50": 31_325_139, "sfnet_r101": 50_317_267, "sfnet_lite_r18": 12_079_863,
    "sfnet_df1": 8_422_387, "sfnet_df2": 17_876_467, "sfnet_stdc1": 5_992_371, "sfnet_stdc2": 10_022_835,
    "sfnet_lite_stdc1": 6_433_623, "sfnet_lite_stdc2": 10_464_087, "fpn_ppm_r18": 12_813_651,
    "fpn_ppm_stdc1": 5_976_627,
}
REQUIRED = [*ISSUE_PARAMS, "fcn_r18"]


def meta_model(name: str, **kwargs) -> torch.nn.Module:
    with torch.device("meta"):
        return alignseg.create_model(name, **kwargs)


def test_zoo_has_the_required_models():
    assert set(REQUIRED) <= set(alignseg.list_models())
    assert alignseg.list_models("sfnet_lite_*") == sorted(n for n in ZOO if n.startswith("sfnet_lite_"))


@pytest.mark.parametrize("name", sorted(ISSUE_PARAMS))
def test_parameters_equal_released_code_used_at_eval(name):
    model = meta_model(name)
    assert count_parameters(model) == ISSUE_PARAMS[name] == get_entry(name).released.params_used


def test_deep_supervision_heads_are_counted_only_in_training_total():
    model = meta_model("sfnet_df1")
    assert len(model.aux_heads) == 2  # the released DF recipe trains two DSN heads
    assert count_parameters(model) == 8_422_387
    assert count_parameters(model, used_at_eval=False) == 8_498_969  # = official sfnet_df1_dsn key file
    assert count_parameters(meta_model("sfnet_r18", aux_heads=True), used_at_eval=False) == 12_869_715 + 3 * (
        128 * 128 * 9 + 128 + 2 * 128 + 128 * 19 + 19
    )


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_macs_match_released_code_within_half_a_percent(name):
    released = get_entry(name).released
    model = meta_model(name)
    for size, expected in (((1024, 1024), released.gmacs_1024x1024), ((1024, 2048), released.gmacs_1024x2048)):
        gmacs = count_macs(model, size) / 1e9
        assert gmacs == pytest.approx(expected, rel=5e-3), (name, size, gmacs, expected)


def test_mac_count_ignores_deep_supervision_heads():
    assert count_macs(meta_model("sfnet_df1"), (256, 512)) == count_macs(
        meta_model("sfnet_df1", aux_heads=False), (256, 512)
    )


def test_zoo_entries_state_paper_figures_and_differences():
    for name in REQUIRED:
        entry = get_entry(name)
        assert entry.paper, f"{name} has no paper figure"
        assert all(fig.source.startswith(("ECCV 2020", "IJCV 2023")) for fig in entry.paper)
    # where the paper's parameter count differs from the eval count, the entry explains why
    for name in RELEASED:
        entry = get_entry(name)
        paper_params = [f.params_m for f in entry.paper if f.params_m]
        if any(abs(p * 1e6 - entry.released.params_used) > 0.06e6 for p in paper_params):
            assert entry.notes, f"{name}: paper and code parameter counts differ without a note"


@pytest.mark.parametrize("name", ["sfnet_r18", "sfnet_lite_r18", "sfnet_df1", "sfnet_stdc1", "fcn_r18"])
@pytest.mark.parametrize("size", [(64, 96), (70, 101), (33, 47)])
def test_eval_logits_at_input_size_for_any_size(name, size):
    model = alignseg.create_model(name, num_classes=5).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
    assert out.shape == (1, 5, *size)
    assert torch.isfinite(out).all()


def test_training_output_has_main_and_aux_logits_and_gradients_reach_flow_convs():
    model = alignseg.create_model("sfnet_r18", num_classes=4, aux_heads=True).train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out["out"].shape == (2, 4, 16, 16)  # stride 4, resized by the loss
    assert {name: a.shape[-1] for name, a in out["aux"].items()} == {"dsn_0": 4, "dsn_1": 8, "dsn_2": 16}
    assert out["loss_inputs"] == {}
    loss = out["out"].sum() + sum(a.sum() for a in out["aux"].values())
    loss.backward()
    for i, fam in model.decoder.aligners.items():
        assert fam.flow_conv.weight.grad is not None and fam.flow_conv.weight.grad.abs().sum() > 0, i


def test_eval_output_has_no_aux_and_is_deterministic():
    model = alignseg.create_model("sfnet_df1", num_classes=3).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), model(x)
    assert isinstance(a, torch.Tensor) and torch.equal(a, b)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown model 'sfnet_r19'.*sfnet_lite_r18.*sfnet_r18"):
        alignseg.create_model("sfnet_r19")


def test_wrong_channel_count_is_a_clear_error():
    model = alignseg.create_model("sfnet_lite_r18").eval()
    with pytest.raises(ValueError, match=r"expected 3 input channels.*got 1"):
        model(torch.randn(1, 1, 64, 64))


def test_image_smaller_than_stride_is_a_clear_error():
    model = alignseg.create_model("sfnet_r18").eval()
    with pytest.raises(ValueError, match=r"smaller than the network's output stride 32"):
        model(torch.randn(1, 3, 31, 64))


def test_training_without_aux_heads_returns_empty_aux_and_loss_inputs():
    model = alignseg.create_model("sfnet_stdc1", num_classes=3).train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out["aux"] == {} and out["loss_inputs"] == {} and out["out"].shape == (2, 3, 16, 16)
