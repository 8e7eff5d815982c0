"""The pure-PyTorch modulated deformable conv against a naive loop, F.conv2d, autograd, FLOPs and ONNX."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from alignseg.models.ops.deform_conv import ModulatedDeformConv2d, deform_conv2d


def _out_size(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _bilinear_zero_outside(plane: np.ndarray, y: float, x: float) -> float:
    """torchvision's sampling rule, written out: zero outside (-1, H) x (-1, W), zero for outside corners."""
    h, w = plane.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    total = 0.0
    for yy, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xx, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= yy < h and 0 <= xx < w:
                total += wy * wx * plane[yy, xx]
    return total


def _naive_deform_conv2d(input, offset, weight, bias, stride, padding, dilation, mask):
    """Per-pixel, per-tap loop reference in float64 with the documented offset/mask layout."""
    inp, off, wgt = (t.double().numpy() for t in (input, offset, weight))
    msk = None if mask is None else mask.double().numpy()
    n, c, _, _ = inp.shape
    cout, cin_g, kh, kw = wgt.shape
    groups = c // cin_g
    offset_groups = off.shape[1] // (2 * kh * kw)
    c_per_og = c // offset_groups
    out_h, out_w = off.shape[2:]
    out = np.zeros((n, cout, out_h, out_w))
    for b in range(n):
        for ci in range(c):
            g = ci // c_per_og
            for i in range(kh):
                for j in range(kw):
                    k = i * kw + j
                    for oy in range(out_h):
                        for ox in range(out_w):
                            dy = off[b, g * 2 * kh * kw + 2 * k, oy, ox]
                            dx = off[b, g * 2 * kh * kw + 2 * k + 1, oy, ox]
                            y = oy * stride - padding + i * dilation + dy
                            x = ox * stride - padding + j * dilation + dx
                            val = _bilinear_zero_outside(inp[b, ci], y, x)
                            if msk is not None:
                                val *= msk[b, g * kh * kw + k, oy, ox]
                            group = ci // cin_g
                            cols = slice(group * (cout // groups), (group + 1) * (cout // groups))
                            out[b, cols, oy, ox] += wgt[cols, ci % cin_g, i, j] * val
    if bias is not None:
        out += bias.double().numpy()[None, :, None, None]
    return torch.from_numpy(out)


def _random_offsets(n, offset_groups, kh, kw, out_h, out_w, h, w):
    """Fractional offsets in [-3, 3] (many samples land in the (-1, 0) and (H-1, H) bands or beyond),
    plus some samples far outside the image."""
    offset = torch.empty(n, 2 * offset_groups * kh * kw, out_h, out_w).uniform_(-3, 3)
    offset[:, 0::4, 0, 0] = -(h + 4.3)  # dy: far above
    offset[:, 1::4, -1, -1] = w + 2.6  # dx: far right
    return offset


CASES = [  # (stride, padding, dilation, conv groups)
    (1, 1, 1, 1),
    (2, 1, 1, 1),
    (1, 1, 2, 1),
    (2, 1, 2, 2),
]


@pytest.mark.parametrize("with_mask", [True, False])
@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), CASES)
def test_matches_naive_loop(stride, padding, dilation, groups, with_mask):
    n, c, h, w, cout, offset_groups, k = 2, 4, 5, 6, 6, 2, 3
    out_h, out_w = _out_size(h, k, stride, padding, dilation), _out_size(w, k, stride, padding, dilation)
    x = torch.randn(n, c, h, w)
    weight = torch.randn(cout, c // groups, k, k) * 0.3
    bias = torch.randn(cout)
    offset = _random_offsets(n, offset_groups, k, k, out_h, out_w, h, w)
    mask = torch.rand(n, offset_groups * k * k, out_h, out_w) if with_mask else None
    out = deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)
    ref = _naive_deform_conv2d(x, offset, weight, bias, stride, padding, dilation, mask)
    assert out.shape == ref.shape == (n, cout, out_h, out_w)
    assert (out.double() - ref).abs().max().item() < 1e-5


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [*CASES, (1, 0, 1, 1), (3, 2, 3, 4)])
def test_zero_offsets_unit_mask_is_conv2d(stride, padding, dilation, groups):
    x = torch.randn(2, 8, 11, 9)
    weight, bias = torch.randn(4, 8 // groups, 3, 3) * 0.2, torch.randn(4)
    out_h, out_w = _out_size(11, 3, stride, padding, dilation), _out_size(9, 3, stride, padding, dilation)
    offset = torch.zeros(2, 2 * 2 * 9, out_h, out_w)
    ref = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
    for mask in (None, torch.ones(2, 2 * 9, out_h, out_w)):
        out = deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation,
                            mask=mask)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_rectangular_kernel_and_tuple_arguments():
    x, weight = torch.randn(1, 2, 7, 8), torch.randn(3, 2, 1, 3)
    offset = torch.zeros(1, 2 * 3, 4, 8)
    out = deform_conv2d(x, offset, weight, stride=(2, 1), padding=(0, 1))
    torch.testing.assert_close(out, F.conv2d(x, weight, stride=(2, 1), padding=(0, 1)))


def test_gradients_reach_every_input():
    x = torch.randn(2, 4, 6, 7, requires_grad=True)
    offset = (torch.randn(2, 2 * 2 * 9, 6, 7) * 1.5).requires_grad_()
    mask = torch.rand(2, 2 * 9, 6, 7).requires_grad_()
    layer = ModulatedDeformConv2d(4, 5, 3, padding=1)
    layer(x, offset, mask).square().sum().backward()
    for grad in (x.grad, offset.grad, mask.grad, layer.weight.grad, layer.bias.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_gradcheck_float64():
    dtype = torch.float64
    x = torch.randn(1, 2, 4, 5, dtype=dtype, requires_grad=True)
    # integer part in [-2, 2] (some samples leave the image), fractional part away from 0 and 1
    offset = torch.randint(-2, 3, (1, 2 * 2 * 9, 2, 3)).to(dtype) + torch.empty(1, 36, 2, 3, dtype=dtype
                                                                              ).uniform_(0.2, 0.8)
    offset.requires_grad_()
    mask = torch.rand(1, 2 * 9, 2, 3, dtype=dtype, requires_grad=True)
    weight = torch.randn(4, 1, 3, 3, dtype=dtype, requires_grad=True)  # conv groups = 2
    bias = torch.randn(4, dtype=dtype, requires_grad=True)

    def fn(x, offset, mask, weight, bias):
        return deform_conv2d(x, offset, weight, bias, stride=2, padding=1, mask=mask)

    assert torch.autograd.gradcheck(fn, (x, offset, mask, weight, bias))


@pytest.mark.parametrize(("n", "groups", "stride"), [(1, 1, 1), (2, 1, 2), (2, 4, 1)])
def test_flop_counter_counts_exactly_the_conv_macs(n, groups, stride):
    cin, cout, k, h, w = 8, 12, 3, 9, 10
    out_h, out_w = _out_size(h, k, stride, 1, 1), _out_size(w, k, stride, 1, 1)
    x = torch.randn(n, cin, h, w)
    offset, mask = torch.randn(n, 2 * 2 * 9, out_h, out_w), torch.rand(n, 2 * 9, out_h, out_w)
    weight, bias = torch.randn(cout, cin // groups, k, k), torch.randn(cout)
    with FlopCounterMode(display=False) as counter:
        deform_conv2d(x, offset, weight, bias, stride=stride, padding=1, mask=mask)
    macs = n * cout * (cin // groups) * k * k * out_h * out_w
    assert counter.get_total_flops() == 2 * macs


def test_module_init_and_shape_errors():
    layer = ModulatedDeformConv2d(16, 8, 3, padding=1)
    bound = 1 / math.sqrt(16 * 9)
    assert layer.weight.shape == (8, 16, 3, 3)
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.8 * bound
    assert torch.equal(layer.bias, torch.zeros(8))
    x = torch.randn(1, 16, 5, 5)
    with pytest.raises(ValueError, match="offset"):
        layer(x, torch.zeros(1, 17, 5, 5))
    with pytest.raises(ValueError, match="offset"):
        layer(x, torch.zeros(1, 18, 4, 5))
    with pytest.raises(ValueError, match="mask"):
        layer(x, torch.zeros(1, 18, 5, 5), torch.ones(1, 18, 5, 5))


def test_auto_dispatch_uses_pure_op_on_cpu():
    x, offset, weight = torch.randn(1, 2, 4, 4), torch.zeros(1, 18, 4, 4), torch.randn(3, 2, 3, 3)
    with FlopCounterMode(display=False) as counter:  # torchvision's kernel would count 0 FLOPs
        deform_conv2d(x, offset, weight, padding=1)
    assert counter.get_total_flops() == 2 * 3 * 2 * 9 * 16


def test_forcing_torchvision_without_it_raises():
    try:
        import torchvision.ops  # noqa: F401
    except Exception:
        pass
    else:
        pytest.skip("torchvision is importable here")
    x, offset, weight = torch.randn(1, 2, 4, 4), torch.zeros(1, 18, 4, 4), torch.randn(3, 2, 3, 3)
    with pytest.raises(ImportError, match="torchvision"):
        deform_conv2d(x, offset, weight, padding=1, use_torchvision=True)


class _OffsetsFromInput(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.offset_mask = torch.nn.Conv2d(6, 3 * 2 * 9, 3, padding=1)
        torch.nn.init.normal_(self.offset_mask.weight, std=0.5)  # offsets of a few pixels
        self.dcn = ModulatedDeformConv2d(6, 5, 3, stride=2, padding=2, dilation=2)

    def forward(self, x):
        om = self.offset_mask(x)[:, :, ::2, ::2]
        return self.dcn(x, om[:, :36], om[:, 36:].sigmoid())


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
def test_onnx_export_runs_at_other_sizes():
    pytest.importorskip("onnx", reason="the [deploy] extra (onnx) is not installed")
    ort = pytest.importorskip("onnxruntime", reason="the [deploy] extra (onnxruntime) is not installed")
    model = _OffsetsFromInput().eval()
    buffer = io.BytesIO()
    axes = {0: "n", 2: "h", 3: "w"}
    torch.onnx.export(model, (torch.randn(1, 6, 12, 16),), buffer, dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": axes, "y": axes})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for shape in [(1, 6, 19, 27), (2, 6, 8, 11)]:
        x = torch.randn(shape)
        with torch.no_grad():
            ref = model(x).numpy()
        (got,) = session.run(None, {"x": x.numpy()})
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() < 1e-4


def test_matches_torchvision():
    tv_ops = pytest.importorskip("torchvision.ops", reason="torchvision is not installed (GPU machines only)")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        x = torch.randn(2, 8, 13, 17, device=device, requires_grad=True)
        offset = (torch.randn(2, 4 * 2 * 9, 7, 9, device=device) * 3).requires_grad_()
        mask = torch.rand(2, 4 * 9, 7, 9, device=device, requires_grad=True)
        weight = torch.randn(6, 4, 3, 3, device=device, requires_grad=True)
        bias = torch.randn(6, device=device, requires_grad=True)
        inputs = (x, offset, mask, weight, bias)
        results = []
        for use_tv in (False, True):
            out = deform_conv2d(x, offset, weight, bias, stride=2, padding=1, mask=mask,
                                use_torchvision=use_tv)
            grads = torch.autograd.grad(out.square().sum(), inputs)
            results.append((out, *grads))
        ref = tv_ops.deform_conv2d(x, offset, weight, bias, stride=2, padding=1, mask=mask)
        torch.testing.assert_close(results[1][0], ref)
        for pure, tv in zip(*results, strict=True):
            torch.testing.assert_close(pure, tv, atol=1e-4, rtol=1e-4)
