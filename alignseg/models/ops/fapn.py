"""FaPN's Feature Selection Module and (deformable) Feature Alignment Module (spec fapn_hfgd.md 1.1, 1.2).

Attribute names follow the released detectron2 ``FeatureSelectionModule`` / ``FeatureAlign_V2`` /
DCNv2 ``DCN`` modules, so an official ``fan_align{i}`` state dict loads into these modules unchanged:
``lateral_conv.conv_atten.weight``, ``lateral_conv.conv.weight``, ``offset.weight``,
``dcpack_L2.weight``, ``dcpack_L2.bias``, ``dcpack_L2.conv_offset_mask.weight|bias``.
Not to be confused with SFNet's Flow Alignment Module, which lives elsewhere.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alignseg.models.ops.deform_conv import ModulatedDeformConv2d

__all__ = ["Conv2dNorm", "DeformableFeatureAlignment", "FeatureSelectionModule", "NeckNorm", "c2_xavier_fill"]

NeckNorm = Literal["", "GN"]
"""Normalisation of the FaPN neck's convs: none (every released config) or GroupNorm with 32 groups."""


def c2_xavier_fill(conv: nn.Conv2d) -> None:
    """detectron2's ``c2_xavier_fill``: kaiming-uniform with a=1, zero bias."""
    nn.init.kaiming_uniform_(conv.weight, a=1)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class Conv2dNorm(nn.Conv2d):
    """detectron2's ``Conv2d`` with ``norm=cfg.MODEL.FPN.NORM``: a conv followed by an optional ``.norm``.

    ``norm="GN"`` adds GroupNorm(32) and drops the conv's bias (detectron2's ``use_bias = norm == ""``);
    ``bias=False`` removes it in any case. The norm lives inside the conv module, so released keys such as
    ``fpn_output4.norm.weight`` keep their layout.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, norm: NeckNorm = "",
                 bias: bool = True) -> None:
        if norm not in ("", "GN"):
            raise ValueError(f"norm must be '' (none) or 'GN', got {norm!r}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias and not norm)
        self.norm = nn.GroupNorm(32, out_channels) if norm == "GN" else None
        c2_xavier_fill(self)

    def forward(self, x: Tensor) -> Tensor:
        x = super().forward(x)
        return x if self.norm is None else self.norm(x)


class FeatureSelectionModule(nn.Module):
    """FSM: x' = x·(1 + sigmoid(Conv1x1(GAP(x)))), then a linear 1x1 projection D → D'.

    ``attention=False`` drops the attention conv (Table I's "FPN + FAM" row): only the 1x1 projection.
    Both convs have no bias, no norm and no activation, as in the released FaPN neck.
    """

    def __init__(self, in_channels: int, out_channels: int, *, attention: bool = True) -> None:
        super().__init__()
        self.conv_atten = nn.Conv2d(in_channels, in_channels, 1, bias=False) if attention else None
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        for conv in (self.conv_atten, self.conv):
            if conv is not None:
                c2_xavier_fill(conv)

    def forward(self, x: Tensor) -> Tensor:
        if self.conv_atten is not None:
            x = x + x * torch.sigmoid(self.conv_atten(x.mean(dim=(2, 3), keepdim=True)))
        return self.conv(x)


class _DeformConvPack(ModulatedDeformConv2d):
    """The released ``DCN(extra_offset_mask=True)``: a 3x3 conv predicts offsets and mask from a guide."""

    def __init__(self, channels: int, deform_groups: int) -> None:
        super().__init__(channels, channels, 3, padding=1)
        self.deform_groups = deform_groups
        self.conv_offset_mask = nn.Conv2d(channels, 3 * deform_groups * 9, 3, padding=1, bias=True)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def forward(self, x: Tensor, guide: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return (output, offset N×2·G·9×H×W, mask N×G·9×H×W) in torchvision's layout."""
        offset_mask = self.conv_offset_mask(guide)
        split = 2 * self.deform_groups * 9
        offset, mask = offset_mask[:, :split], torch.sigmoid(offset_mask[:, split:])
        return super().forward(x, offset, mask), offset, mask


class DeformableFeatureAlignment(nn.Module):
    """FaPN's FAM: aligns the upsampled top-down feature to the FSM lateral with a DCNv2, then sums.

    out = ReLU(DCN(P_up; offsets, mask from Conv3x3(Conv1x1(cat[Ĉ, 2·P_up])))) + Ĉ, with Ĉ = FSM(lateral).
    ``deform=False`` replaces the DCN with a regular 3x3 conv and builds no offset branch: a deployment
    fallback that loses accuracy (FaPN issue #4), not the paper's model. ``norm="GN"`` puts GroupNorm after
    the 1x1 offset conv, as the released code does when ``cfg.MODEL.FPN.NORM`` is "GN"; the FSM stays linear.
    """

    def __init__(self, in_channels: int, out_channels: int, *, deform_groups: int = 8,
                 upsample_mode: Literal["bilinear", "nearest"] = "bilinear", attention: bool = True,
                 deform: bool = True, offset_input_scale: float = 2.0, norm: NeckNorm = "") -> None:
        super().__init__()
        if upsample_mode not in ("bilinear", "nearest"):
            raise ValueError(f"upsample_mode must be 'bilinear' or 'nearest', got {upsample_mode!r}")
        if deform and out_channels % deform_groups:
            raise ValueError(f"out_channels {out_channels} is not divisible by deform_groups {deform_groups}")
        self.upsample_mode = upsample_mode
        self.offset_input_scale = offset_input_scale
        self.lateral_conv = FeatureSelectionModule(in_channels, out_channels, attention=attention)
        if deform:
            self.offset = Conv2dNorm(2 * out_channels, out_channels, 1, norm=norm, bias=False)
            self.dcpack_L2 = _DeformConvPack(out_channels, deform_groups)
        else:
            self.offset = None
            self.dcpack_L2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=True)
            bound = (out_channels * 9) ** -0.5  # the DCN's init, so both variants start alike
            nn.init.uniform_(self.dcpack_L2.weight, -bound, bound)
            nn.init.zeros_(self.dcpack_L2.bias)

    def forward(self, lateral: Tensor, top: Tensor) -> Tensor:
        """Fuse ``lateral`` (N×in×H×W) with ``top`` (N×out×h×w, any coarser size) into N×out×H×W."""
        return self.forward_with_offsets(lateral, top)[0]

    def forward_with_offsets(self, lateral: Tensor, top: Tensor
                             ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``forward`` plus the DCN's offset (N×2·G·9×H×W) and mask (N×G·9×H×W), None without deform."""
        aligned, selected, offset, mask = self.branches(lateral, top)
        return aligned + selected, offset, mask

    def branches(self, lateral: Tensor, top: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """The two maps before their fusion, ``(ReLU(DCN(P_up)), Ĉ = FSM(lateral))``, plus offset and mask.

        The released neck sums them (``forward``); the real-time FaPN concatenates them (Appendix B).
        """
        size = lateral.shape[-2:]
        if torch.jit.is_tracing() or top.shape[-2:] != size:  # traced graphs always resize (an identity)
            align_corners = False if self.upsample_mode == "bilinear" else None
            top = F.interpolate(top, size=size, mode=self.upsample_mode, align_corners=align_corners)
        selected = self.lateral_conv(lateral)
        offset = mask = None
        if self.offset is None:
            aligned = self.dcpack_L2(top)
        else:
            guide = self.offset(torch.cat([selected, top * self.offset_input_scale], dim=1))
            aligned, offset, mask = self.dcpack_L2(top, guide)
        return F.relu(aligned), selected, offset, mask
