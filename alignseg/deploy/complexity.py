"""Parameter and MAC counts with the papers' conventions, computed without running real arithmetic.

MACs follow spec/sfnet.md 2.2: ``torch.utils.flop_counter`` counts convolutions and matrix products
only (bias, BN, activations, pooling, interpolation and grid sampling are free), and MACs = FLOPs / 2.
The model runs on the ``meta`` device, so a 1024×2048 count of ResNet-101 takes well under a second.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, *, used_at_eval: bool = True) -> int:
    """Number of parameters; with ``used_at_eval`` the train-only deep-supervision heads are left out."""
    total = sum(p.numel() for p in model.parameters())
    if used_at_eval and hasattr(model, "aux_heads"):
        total -= sum(p.numel() for p in model.aux_heads.parameters())
    return total


def count_macs(
    model: nn.Module,
    input_size: tuple[int, int],
    *,
    batch: int = 1,
    exclude: Iterable[type[nn.Module]] = (),
) -> int:
    """Multiply-accumulates of one eval forward pass at ``input_size`` (H, W).

    ``exclude`` lists module types whose own MACs are left out (FaPN's Table I does not count the
    deformable convolution, for example). Only the computation in the excluded module's own ``forward``
    is removed; its submodules still count (the offset/mask conv that FaPN's ``DCN`` module owns).
    The model is copied to the meta device; it is not changed.
    """
    meta_model = copy.deepcopy(model).to("meta").eval()
    excluded = tuple(exclude)
    image = torch.empty(batch, 3, *input_size, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta_model(image)
    flops = counter.get_total_flops()
    if excluded:
        # FlopCounterMode reports inclusive counts per module path ("Root.a.b"); a module's own share is
        # its count minus its direct children's.
        per_module = {path: sum(ops.values()) for path, ops in counter.get_flop_counts().items()}
        root = type(meta_model).__name__
        for name, module in meta_model.named_modules():
            if not isinstance(module, excluded):
                continue
            path = f"{root}.{name}" if name else root
            children = sum(per_module.get(f"{path}.{child}", 0) for child, _ in module.named_children())
            flops -= per_module.get(path, 0) - children
    return flops // 2
