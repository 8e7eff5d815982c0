"""Modulated deformable convolution (DCNv2) in pure PyTorch, with torchvision's op as a CUDA fast path.

The pure op has exactly the semantics and offset/mask layout of ``torchvision.ops.deform_conv2d``, so
weights and offsets trained with either (or with the DCNv2 extension of the released FaPN) give the same
outputs. It is built from standard operators, so it exports to ONNX and runs on any device.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .resize import is_exporting

__all__ = ["ModulatedDeformConv2d", "deform_conv2d"]

_IntPair = int | tuple[int, int]


def _pair(value: _IntPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


@functools.cache
def _torchvision_op() -> Callable[..., Tensor] | None:
    """``torchvision.ops.deform_conv2d`` if torchvision imports (looked up once, lazily), else None."""
    try:
        from torchvision.ops import deform_conv2d as op
    except (ImportError, RuntimeError, OSError):  # absent, or built against another torch
        return None
    return op


def _check_shapes(input: Tensor, offset: Tensor, weight: Tensor, mask: Tensor | None,
                  stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int]) -> None:
    """Raise a clear error for arguments torchvision's op would reject."""
    if input.dim() != 4 or offset.dim() != 4 or weight.dim() != 4:
        raise ValueError(f"input, offset and weight must be 4-D, got {input.dim()}, {offset.dim()}, "
                         f"{weight.dim()} dimensions")
    n, c, h, w = input.shape
    kh, kw = weight.shape[-2:]
    taps = kh * kw
    if weight.shape[1] == 0 or c % weight.shape[1] != 0 or weight.shape[0] % (c // weight.shape[1]) != 0:
        raise ValueError(f"weight {tuple(weight.shape)} does not fit {c} input channels in whole groups")
    if offset.shape[1] == 0 or offset.shape[1] % (2 * taps) != 0 or c % (offset.shape[1] // (2 * taps)):
        raise ValueError(f"offset has {offset.shape[1]} channels: expected 2·G·{kh}·{kw} with G dividing {c}")
    out_h = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"input {h}x{w} is too small for a {kh}x{kw} kernel with this padding/dilation")
    if offset.shape[0] != n or tuple(offset.shape[-2:]) != (out_h, out_w):
        raise ValueError(f"offset {tuple(offset.shape)} must be {n} x {offset.shape[1]} x {out_h} x {out_w}")
    if mask is not None:
        groups = offset.shape[1] // (2 * taps)
        if tuple(mask.shape) != (n, groups * taps, out_h, out_w):
            raise ValueError(f"mask {tuple(mask.shape)} must be {n} x {groups * taps} x {out_h} x {out_w}")


def _deform_conv2d_pure(input: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None,
                        stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
                        mask: Tensor | None) -> Tensor:
    """Bilinear sampling of the im2col columns with one ``grid_sample``, then one product with the weight.

    ``grid_sample`` (zeros outside, ``align_corners=False`` with pixel centres at (i + 0.5)/size) samples
    exactly as torchvision's kernel does: a corner outside the image counts as zero. The offset groups
    are folded into the batch, the taps into the grid's rows, so the output is already the columns'
    layout. Every size comes from tensor shapes (traced, not frozen, under ``torch.onnx.export``).
    """
    n, c, h, w = input.shape
    out_h, out_w = offset.shape[-2:]
    cout, cin_per_group, kh, kw = weight.shape
    offset_groups = offset.shape[1] // (2 * kh * kw)
    conv_groups = c // cin_per_group

    # Sampling points p0 + p_k·dilation + Δp, shape N × G × (kh·kw) × (Hout·Wout), for y and x.
    offset = offset.reshape(n, offset_groups, kh * kw, 2, out_h * out_w)
    dtype, device = offset.dtype, offset.device
    base_y = (torch.arange(kh, device=device) * dilation[0]).reshape(-1, 1, 1, 1) + (
        torch.arange(out_h, device=device) * stride[0] - padding[0]).reshape(1, 1, -1, 1)
    base_x = (torch.arange(kw, device=device) * dilation[1]).reshape(1, -1, 1, 1) + (
        torch.arange(out_w, device=device) * stride[1] - padding[1]).reshape(1, 1, 1, -1)
    base_y = base_y.expand(kh, kw, out_h, out_w).reshape(kh * kw, out_h * out_w).to(dtype)
    base_x = base_x.expand(kh, kw, out_h, out_w).reshape(kh * kw, out_h * out_w).to(dtype)
    y = offset[:, :, :, 0] + base_y
    x = offset[:, :, :, 1] + base_x
    grid = torch.stack([(x + 0.5) * (2.0 / w) - 1.0, (y + 0.5) * (2.0 / h) - 1.0], dim=-1)
    columns = F.grid_sample(input.reshape(n * offset_groups, c // offset_groups, h, w),
                            grid.reshape(n * offset_groups, kh * kw, out_h * out_w, 2),
                            mode="bilinear", padding_mode="zeros", align_corners=False)
    if mask is not None:
        columns = columns * mask.reshape(n * offset_groups, 1, kh * kw, out_h * out_w)

    # columns: channel-major like the weight's (Cin/groups)·kh·kw rows. Exported, the product with the
    # weight is a grouped 1×1 convolution, which runtimes run on their AMX/INT8 conv kernels (OpenVINO
    # keeps a MatMul here in f32: fapn_r50 runs 1.5× faster in bf16, 2× in INT8); in eager PyTorch a
    # batched matmul is the faster of the two (oneDNN's 1×1 conv over C·kh·kw channels is slower).
    if is_exporting():
        columns = columns.reshape(n, c * kh * kw, out_h, out_w)
        return F.conv2d(columns, weight.reshape(cout, cin_per_group * kh * kw, 1, 1), bias, groups=conv_groups)
    columns = columns.reshape(n, conv_groups, cin_per_group * kh * kw, out_h * out_w)
    out = torch.matmul(weight.reshape(conv_groups, cout // conv_groups, cin_per_group * kh * kw), columns)
    out = out.reshape(n, cout, out_h, out_w)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def deform_conv2d(input: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None = None, *,
                  stride: _IntPair = 1, padding: _IntPair = 0, dilation: _IntPair = 1,
                  mask: Tensor | None = None, use_torchvision: bool | None = None) -> Tensor:
    """Modulated deformable conv with ``torchvision.ops.deform_conv2d``'s semantics and memory layout.

    ``offset`` is N × 2·G·kh·kw × Hout × Wout (channel ``g·2·kh·kw + 2k`` is dy, ``+1`` is dx, for tap
    ``k = i·kw + j``), ``mask`` is N × G·kh·kw × Hout × Wout; G offset groups each cover C/G consecutive
    input channels; conv groups are ``C // weight.shape[1]``. Samples are bilinear with zeros outside.
    ``use_torchvision``: None picks torchvision's kernel for CUDA inputs when it imports (never while
    tracing/exporting), True forces it, False forces the pure op (exportable, counted by FlopCounterMode).
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    tracing = torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
    if use_torchvision is None:
        use_torchvision = input.is_cuda and not tracing and _torchvision_op() is not None
    if use_torchvision:
        op = _torchvision_op()
        if op is None:
            raise ImportError("use_torchvision=True but torchvision.ops.deform_conv2d cannot be imported")
        return op(input, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)
    if not tracing:
        _check_shapes(input, offset, weight, mask, stride, padding, dilation)
    return _deform_conv2d_pure(input, offset, weight, bias, stride, padding, dilation, mask)


class ModulatedDeformConv2d(nn.Module):
    """DCNv2 layer: weight Cout × Cin/groups × k × k and bias; offsets and mask come from the caller.

    Initialised as the released DCNv2 ``DCN``: weight uniform(±1/sqrt(Cin·k·k)), bias zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _IntPair, *, stride: _IntPair = 1,
                 padding: _IntPair = 0, dilation: _IntPair = 1, groups: int = 1, bias: bool = True,
                 use_torchvision: bool | None = None) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels {in_channels} and out_channels {out_channels} must be "
                             f"divisible by groups {groups}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.use_torchvision = use_torchvision
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor | None = None) -> Tensor:
        return deform_conv2d(x, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, mask=mask, use_torchvision=self.use_torchvision)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}")
