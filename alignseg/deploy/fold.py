"""BatchNorm folding: every eval-mode ``Conv2d → BatchNorm2d`` pair becomes one convolution with a bias.

Pairs are found from what the network computes, not from attribute names: one forward pass on the meta
device records, for every ``nn.Conv2d`` and ``nn.BatchNorm2d`` call, the tensor it produced or received,
and how many torch operations read each tensor. A BatchNorm folds into a convolution when it receives
the convolution's output and nothing else reads that output, and both modules run exactly once. This
covers ``ConvBNAct`` (``.conv``/``.bn``), the backbones' ``conv1``/``bn1`` and ``downsample.0``/``.1``,
STDC's ``ConvX``, the DF stem's ``Sequential`` and the PPM branches alike, and leaves alone any BN whose
input is also used elsewhere (folding it would change that other use).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves


class _CountTensorReads(TorchFunctionMode):
    """Counts, per tensor object, the torch operations that read it and produce a tensor.

    Shape and metadata queries (``x.shape``, ``x.dim()``) return no tensor and are not counted. The
    tensors are kept alive so that their ``id`` stays unique during the pass.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[int] = Counter()
        self.alive: list[Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if any(isinstance(leaf, Tensor) for leaf in tree_leaves(out)):
            for leaf in tree_leaves((args, kwargs or {})):
                if isinstance(leaf, Tensor):
                    self.reads[id(leaf)] += 1
                    self.alive.append(leaf)
        return out


def _is_plain_conv(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and type(module).forward is nn.Conv2d.forward


def _is_foldable_bn(module: nn.Module) -> bool:
    return (isinstance(module, nn.BatchNorm2d) and type(module).forward is nn.BatchNorm2d.forward
            and module.running_mean is not None and module.running_var is not None)


def _example_input(model: nn.Module) -> Tensor:
    backbone = getattr(model, "backbone", None)
    channels = getattr(backbone, "in_channels", 3)
    side = max(128, 4 * int(getattr(model, "output_stride", 32)))
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    return torch.empty(1, channels, side, side, dtype=dtype)


def meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the meta device, made without copying any parameter's data."""
    memo = {}
    for tensor in model.parameters():
        memo[id(tensor)] = nn.Parameter(torch.empty_like(tensor, device="meta"), requires_grad=tensor.requires_grad)
    for tensor in model.buffers():
        memo[id(tensor)] = torch.empty_like(tensor, device="meta")
    return copy.deepcopy(model, memo)


def find_conv_bn_pairs(model: nn.Module, example: Tensor | None = None) -> list[tuple[str, str]]:
    """Names ``(conv, bn)`` of the BatchNorms that can fold into the convolution that feeds them.

    ``model`` is not changed: the pass runs in eval mode on a meta-device copy (no arithmetic), with
    ``example`` (default: a 128×128 image, or larger for networks with a larger output stride).
    """
    probe = meta_copy(model).eval()
    image = (_example_input(model) if example is None else example).to("meta")
    conv_outputs: dict[int, str] = {}
    bn_inputs: dict[str, int] = {}
    calls: Counter[str] = Counter()
    handles = []
    for name, module in probe.named_modules():
        if _is_plain_conv(module):
            def on_conv(_module, _args, output, name=name):
                calls[name] += 1
                conv_outputs[id(output)] = name
            handles.append(module.register_forward_hook(on_conv))
        elif _is_foldable_bn(module):
            def on_bn(_module, args, name=name):
                calls[name] += 1
                bn_inputs[name] = id(args[0])
            handles.append(module.register_forward_pre_hook(on_bn))
    counter = _CountTensorReads()
    try:
        with torch.no_grad(), counter:
            probe(image)
    finally:
        for handle in handles:
            handle.remove()
    pairs = []
    for bn_name, tensor_id in bn_inputs.items():
        conv_name = conv_outputs.get(tensor_id)
        if (conv_name is not None and calls[conv_name] == 1 and calls[bn_name] == 1
                and counter.reads[tensor_id] == 1):
            pairs.append((conv_name, bn_name))
    return pairs


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new convolution computing ``bn(conv(x))`` with ``bn``'s running statistics (eval mode).

    The scale and shift are computed in float64 and rounded once to the convolution's dtype.
    """
    fused = copy.deepcopy(conv)
    weight = conv.weight.double()
    bias = conv.bias.double() if conv.bias is not None else torch.zeros(conv.out_channels, dtype=torch.float64,
                                                                        device=weight.device)
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(bias)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(bias)
    scale = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
    fused.weight = nn.Parameter((weight * scale.view(-1, 1, 1, 1)).to(conv.weight.dtype))
    fused.bias = nn.Parameter(((bias - bn.running_mean.double()) * scale + beta).to(conv.weight.dtype))
    return fused


def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def fold_batchnorm(model: nn.Module, example: Tensor | None = None,
                   pairs: Sequence[tuple[str, str]] | None = None) -> nn.Module:
    """An eval-mode copy of ``model`` with every foldable BatchNorm merged into its convolution.

    Each folded BatchNorm is replaced by ``nn.Identity``; the original model is not changed. The copy
    computes the same function in eval mode (up to float rounding) and must not be trained further.
    The number of folded pairs is stored on the copy as ``folded_batchnorms``.
    """
    pairs = find_conv_bn_pairs(model, example) if pairs is None else pairs
    folded = copy.deepcopy(model).eval()
    for conv_name, bn_name in pairs:
        conv = folded.get_submodule(conv_name)
        bn = folded.get_submodule(bn_name)
        _set_submodule(folded, conv_name, fuse_conv_bn(conv, bn))
        _set_submodule(folded, bn_name, nn.Identity())
    folded.folded_batchnorms = len(pairs)
    return folded
