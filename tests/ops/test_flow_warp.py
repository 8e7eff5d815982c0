"""The flow warp follows the released SFNet convention: hand-checkable identities and shifts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from alignseg.models.ops.fam import FlowAlignmentModule
from alignseg.models.ops.flow_warp import flow_to_pixels, flow_warp, identity_grid


@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 3), (7, 7), (32, 64), (45, 101)])
def test_identity_grid_is_linspace_bit_for_bit(h, w):
    grid = identity_grid(h, w, torch.empty(0))
    assert grid.shape == (1, h, w, 2)
    if w > 1:
        assert torch.equal(grid[0, 0, :, 0], torch.linspace(-1, 1, w))
    if h > 1:
        assert torch.equal(grid[0, :, 0, 1], torch.linspace(-1, 1, h))


def test_zero_flow_is_align_corners_bilinear_upsampling():
    feature = torch.randn(2, 5, 6, 9)
    flow = torch.zeros(2, 2, 23, 31)
    expected = F.interpolate(feature, size=(23, 31), mode="bilinear", align_corners=True)
    assert (flow_warp(feature, flow) - expected).abs().max() < 1e-5


def test_constant_flow_shifts_by_the_released_unit():
    # One flow unit moves a sample by (W-1)/(2W) output pixels: a flow of 2W/(W-1) shifts by one pixel.
    h, w = 8, 10
    feature = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0] = 2 * w / (w - 1)  # +1 pixel in x
    shifted = flow_warp(feature, flow)
    assert torch.allclose(shifted[..., :-1], feature[..., 1:], atol=1e-4)
    assert torch.allclose(shifted[..., -1], torch.zeros(1, 1, h), atol=1e-4)  # sampled outside: zero padding
    flow = torch.zeros(1, 2, h, w)
    flow[:, 1] = -h / (h - 1)  # -1/2 pixel in y: the average of two rows
    half = flow_warp(feature, flow)
    assert torch.allclose(half[..., 1:, :], (feature[..., 1:, :] + feature[..., :-1, :]) / 2, atol=1e-4)


def test_flow_to_pixels_inverts_the_unit():
    h, w = 8, 10
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0], flow[:, 1] = 2 * w / (w - 1), -h / (h - 1)
    pixels = flow_to_pixels(flow)
    assert torch.allclose(pixels[:, 0], torch.ones(1, h, w))
    assert torch.allclose(pixels[:, 1], torch.full((1, h, w), -0.5))


def test_fam_gradients_reach_the_flow_conv_and_projections():
    fam = FlowAlignmentModule(8)
    low, high = torch.randn(1, 8, 12, 16), torch.randn(1, 8, 6, 8)
    aligned, flow = fam(low, high)
    assert aligned.shape == low.shape and flow.shape == (1, 2, 12, 16)
    aligned.square().sum().backward()
    for conv in (fam.flow_conv, fam.project_high, fam.project_low):
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_fam_with_zero_flow_conv_is_bilinear_upsampling():
    fam = FlowAlignmentModule(4)
    torch.nn.init.zeros_(fam.flow_conv.weight)
    low, high = torch.randn(1, 4, 10, 14), torch.randn(1, 4, 5, 7)
    aligned, _ = fam(low, high)
    expected = F.interpolate(high, size=(10, 14), mode="bilinear", align_corners=True)
    assert (aligned - expected).abs().max() < 1e-5


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_channels_last_warp_is_finite_and_matches_float32(dtype):
    # torch's CPU grid_sample on a half channels-last input of >= 2**16 elements returns garbage (NaN)
    # where positions fall outside; the warp samples in float32, so a half model's output stays right.
    generator = torch.Generator().manual_seed(0)
    feature = torch.randn(1, 32, 32, 64, generator=generator).to(dtype)
    flow = 40 * torch.randn(1, 2, 8, 16, generator=generator).to(dtype)
    expected = flow_warp(feature.float(), flow.float())
    warped = flow_warp(feature.contiguous(memory_format=torch.channels_last), flow)
    assert warped.dtype == dtype and torch.isfinite(warped).all()
    assert (warped.float() - expected).abs().max() <= 2e-2 * expected.abs().max()


def test_autocast_warp_positions_are_float32():
    # A bfloat16 grid holds positions to 1/128 of the half-width: whole pixels off at 256 columns.
    generator = torch.Generator().manual_seed(0)
    feature = torch.randn(1, 4, 16, 256, generator=generator).to(torch.bfloat16)
    flow = torch.randn(1, 2, 16, 256, generator=generator).to(torch.bfloat16)
    expected = flow_warp(feature.float(), flow.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        warped = flow_warp(feature, flow)
    assert warped.dtype == torch.float32  # autocast's policy for grid_sample
    assert (warped - expected).abs().max() < 1e-5
