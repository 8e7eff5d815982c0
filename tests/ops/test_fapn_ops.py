"""FaPN's FSM and deformable FAM: hand-checked outputs, init identities, parameter counts, keys, gradients."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alignseg.models.ops.fapn import DeformableFeatureAlignment, FeatureSelectionModule


def _num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_fsm_hand_checked():
    fsm = FeatureSelectionModule(2, 1)
    with torch.no_grad():
        fsm.conv_atten.weight.copy_(torch.tensor([[1.0, 0.0], [2.0, -1.0]]).view(2, 2, 1, 1))
        fsm.conv.weight.copy_(torch.tensor([[0.5, 3.0]]).view(1, 2, 1, 1))
    x = torch.tensor([[[[1.0, 3.0]], [[2.0, 0.0]]]])  # channel means 2 and 1
    u0 = 1 / (1 + np.exp(-(1 * 2 + 0 * 1)))
    u1 = 1 / (1 + np.exp(-(2 * 2 - 1 * 1)))
    expected = [0.5 * (1 + u0) * 1 + 3 * (1 + u1) * 2, 0.5 * (1 + u0) * 3 + 3 * (1 + u1) * 0]
    torch.testing.assert_close(fsm(x), torch.tensor(expected, dtype=torch.float32).view(1, 1, 1, 2))


def test_fsm_parameters_init_and_no_attention_variant():
    fsm = FeatureSelectionModule(64, 32)
    assert _num_params(fsm) == 64 * 64 + 64 * 32
    assert sorted(fsm.state_dict()) == ["conv.weight", "conv_atten.weight"]
    for conv, fan_in in ((fsm.conv_atten, 64), (fsm.conv, 64)):  # kaiming_uniform(a=1): bound sqrt(3/fan_in)
        assert conv.bias is None
        assert 0.9 * (3 / fan_in) ** 0.5 < conv.weight.abs().max() <= (3 / fan_in) ** 0.5
    plain = FeatureSelectionModule(64, 32, attention=False)
    assert _num_params(plain) == 64 * 32 and plain.conv_atten is None
    x = torch.randn(2, 64, 5, 7)
    torch.testing.assert_close(plain(x), F.conv2d(x, plain.conv.weight))


def test_fam_parameter_count_and_released_keys():
    fam = DeformableFeatureAlignment(128, 128, deform_groups=8)
    d, lat, g = 128, 128, 8
    fsm = lat * lat + lat * d
    expected = fsm + 2 * d * d + (d * 3 * g * 9 * 9 + 3 * g * 9) + (d * d * 9 + d)
    assert _num_params(fam) == expected == 462_168
    assert _num_params(fam) - _num_params(fam.lateral_conv) == 429_400  # spec appendix: FAM at D'=128, no FSM
    assert _num_params(DeformableFeatureAlignment(256, 256)) - 2 * 256 * 256 == 1_219_032  # D'=256, no FSM
    assert sorted(fam.state_dict()) == sorted([  # the released FeatureAlign_V2 keys
        "lateral_conv.conv_atten.weight", "lateral_conv.conv.weight", "offset.weight",
        "dcpack_L2.weight", "dcpack_L2.bias", "dcpack_L2.conv_offset_mask.weight",
        "dcpack_L2.conv_offset_mask.bias",
    ])
    assert fam.dcpack_L2.conv_offset_mask.out_channels == 216


def test_fam_at_init_is_half_a_regular_conv():
    fam = DeformableFeatureAlignment(24, 16, deform_groups=8)
    with torch.no_grad():
        fam.dcpack_L2.bias.normal_()
    lateral, top = torch.randn(2, 24, 15, 23), torch.randn(2, 16, 8, 12)
    out, offset, mask = fam.forward_with_offsets(lateral, top)
    assert out.shape == (2, 16, 15, 23)
    assert offset.shape == (2, 2 * 8 * 9, 15, 23) and mask.shape == (2, 8 * 9, 15, 23)
    assert torch.equal(offset, torch.zeros_like(offset))
    assert torch.equal(mask, torch.full_like(mask, 0.5))
    up = F.interpolate(top, size=(15, 23), mode="bilinear", align_corners=False)
    dcn = fam.dcpack_L2
    expected = F.relu(0.5 * F.conv2d(up, dcn.weight, padding=1) + dcn.bias.view(1, -1, 1, 1))
    expected = expected + fam.lateral_conv(lateral)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_fam_same_size_and_nearest_upsampling():
    fam = DeformableFeatureAlignment(8, 16, upsample_mode="nearest")
    lateral, top = torch.randn(1, 8, 9, 10), torch.randn(1, 16, 5, 5)
    up = F.interpolate(top, size=(9, 10), mode="nearest")
    torch.testing.assert_close(fam(lateral, top), fam(lateral, up))
    with pytest.raises(ValueError, match="upsample_mode"):
        DeformableFeatureAlignment(8, 16, upsample_mode="bicubic")
    with pytest.raises(ValueError, match="deform_groups"):
        DeformableFeatureAlignment(8, 12, deform_groups=8)


def test_fam_without_deform_builds_no_offset_branch():
    fam = DeformableFeatureAlignment(32, 16, deform=False)
    assert fam.offset is None and not hasattr(fam.dcpack_L2, "conv_offset_mask")
    assert sorted(fam.state_dict()) == sorted([
        "lateral_conv.conv_atten.weight", "lateral_conv.conv.weight", "dcpack_L2.weight", "dcpack_L2.bias"])
    assert _num_params(fam) == 32 * 32 + 32 * 16 + 16 * 16 * 9 + 16
    lateral, top = torch.randn(2, 32, 7, 9), torch.randn(2, 16, 4, 5)
    out, offset, mask = fam.forward_with_offsets(lateral, top)
    assert offset is None and mask is None
    up = F.interpolate(top, size=(7, 9), mode="bilinear", align_corners=False)
    expected = F.relu(fam.dcpack_L2(up)) + fam.lateral_conv(lateral)
    torch.testing.assert_close(out, expected)


def test_fam_without_attention_is_the_fpn_plus_fam_row():
    fam = DeformableFeatureAlignment(128, 128, attention=False)
    assert _num_params(fam) == 462_168 - 128 * 128
    assert "lateral_conv.conv_atten.weight" not in fam.state_dict()


def test_fam_gradients_reach_the_offset_branch():
    fam = DeformableFeatureAlignment(16, 16, deform_groups=4)
    lateral, top = torch.randn(2, 16, 10, 12), torch.randn(2, 16, 5, 6)
    fam(lateral, top).square().sum().backward()
    om_conv = fam.dcpack_L2.conv_offset_mask
    assert om_conv.weight.grad.abs().sum() > 0  # the zero-initialised conv still learns
    assert torch.equal(fam.offset.weight.grad, torch.zeros_like(fam.offset.weight))  # blocked by zeros
    fam.zero_grad()
    with torch.no_grad():
        om_conv.weight.normal_(std=0.05)
    lateral.requires_grad_()
    fam(lateral, top).square().sum().backward()
    for grad in (fam.offset.weight.grad, om_conv.weight.grad, om_conv.bias.grad, fam.dcpack_L2.weight.grad,
                 fam.lateral_conv.conv_atten.weight.grad, lateral.grad):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
def test_fam_onnx_export_runs_at_other_sizes():
    pytest.importorskip("onnx", reason="the [deploy] extra (onnx) is not installed")
    ort = pytest.importorskip("onnxruntime", reason="the [deploy] extra (onnxruntime) is not installed")
    fam = DeformableFeatureAlignment(12, 16, deform_groups=2).eval()
    with torch.no_grad():
        fam.dcpack_L2.conv_offset_mask.weight.normal_(std=0.1)
    buffer = io.BytesIO()
    args = (torch.randn(1, 12, 10, 14), torch.randn(1, 16, 5, 7))
    torch.onnx.export(fam, args, buffer, dynamo=False, opset_version=17, input_names=["lateral", "top"],
                      output_names=["out"], dynamic_axes={name: {2: f"{name}_h", 3: f"{name}_w"}
                                                          for name in ("lateral", "top", "out")})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for lat_size, top_size in [((15, 23), (8, 12)), ((12, 12), (6, 6))]:
        lateral, top = torch.randn(1, 12, *lat_size), torch.randn(1, 16, *top_size)
        with torch.no_grad():
            ref = fam(lateral, top).numpy()
        (got,) = session.run(None, {"lateral": lateral.numpy(), "top": top.numpy()})
        assert np.abs(got - ref).max() < 1e-4
