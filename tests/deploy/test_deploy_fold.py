"""BatchNorm folding: every Conv→BN pair of every model family folds, and the folded network computes the same."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import alignseg
from alignseg.deploy.fold import find_conv_bn_pairs, fold_batchnorm, fuse_conv_bn
from alignseg.deploy.loading import calibrate_batchnorm


def _trained_like(name: str) -> nn.Module:
    """A fresh model with BN statistics from real activations and non-trivial affine parameters."""
    model = alignseg.create_model(name, num_classes=19)
    calibrate_batchnorm(model, size=(64, 96))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) * 0.2 + 0.9)
                module.bias.copy_(torch.rand(module.bias.shape, generator=generator) * 0.1 - 0.05)
    return model.eval()


FAMILIES = [  # one model per backbone/decoder family
    "sfnet_r18", "sfnet_lite_r18", "sfnet_stdc1", "sfnet_lite_stdc1", "sfnet_df1", "fapn_r18", "fcn_r18",
    "fpn_ppm_stdc1",
]


@pytest.mark.parametrize("name", FAMILIES)
def test_folded_model_equals_unfolded(name):
    model = _trained_like(name)
    bn_names = {n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d) and not n.startswith("aux_heads")}
    pairs = find_conv_bn_pairs(model)
    assert bn_names <= {bn for _, bn in pairs}, f"not folded: {sorted(bn_names - {bn for _, bn in pairs})[:5]}"
    folded = fold_batchnorm(model, pairs=pairs)
    assert not any(isinstance(m, nn.BatchNorm2d) for n, m in folded.named_modules() if not n.startswith("aux_heads"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "the original must be left unchanged"
    # each fold is right on its own: the fused conv computes bn(conv(x))
    for conv_name, bn_name in pairs:
        conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
        x = torch.randn(1, conv.in_channels, 7, 7)
        with torch.no_grad():
            reference = bn(conv(x))
            layer_diff = (fuse_conv_bn(conv, bn)(x) - reference).abs().max().item()
        assert layer_diff < 1e-6 * max(1.0, reference.abs().max().item()), (conv_name, bn_name, layer_diff)
    # and the whole folded network gives the same logits: within 1e-5 relative to the logits' scale, or, where
    # float32 rounding of the deep network itself is larger than that (PyTorch fp32 is itself ~4e-5 from float64
    # for ResNet-18 models with these weights), no further from float64 than the unfolded network is
    image = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected, got = model(image), folded(image)
    scale = expected.abs().max().item()
    assert scale < 100, "activations should have trained-like magnitudes"
    diff = (expected - got).abs().max().item()
    if diff >= 1e-5 * max(1.0, scale):
        with torch.no_grad():
            exact = copy.deepcopy(model).double()(image.double())
        folded_error = (got.double() - exact).abs().max().item()
        unfolded_error = (expected.double() - exact).abs().max().item()
        assert folded_error <= 2 * unfolded_error, (diff, folded_error, unfolded_error)


def test_fuse_conv_bn_with_bias_groups_and_no_affine():
    conv = nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=True)
    bn = nn.BatchNorm2d(8, affine=False).eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 8, 9, 11)
    with torch.no_grad():
        torch.testing.assert_close(fuse_conv_bn(conv, bn)(x), bn(conv(x)), atol=1e-5, rtol=1e-5)


class _SharedOutput(nn.Module):
    """The conv output feeds the BN *and* a skip connection: folding would change the skip."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.conv2 = nn.Conv2d(3, 4, 1)
        self.bn2 = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn2(self.conv2(self.bn(y) + y))


def test_conv_output_used_elsewhere_is_not_folded():
    model = _SharedOutput().eval()
    model.bn.running_mean.fill_(0.5)
    assert find_conv_bn_pairs(model, torch.empty(1, 3, 8, 8)) == [("conv2", "bn2")]
    folded = fold_batchnorm(model, torch.empty(1, 3, 8, 8))
    assert isinstance(folded.bn, nn.BatchNorm2d) and isinstance(folded.bn2, nn.Identity)
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)
