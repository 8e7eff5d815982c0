"""FaPN decoders: the released detectron2 neck with the SemanticFPN head, and the real-time FaPN.

Spec fapn_hfgd.md Part 1. :class:`FaPNNeck` is the released ``FAN`` (1.3), :class:`SemanticFPNHead`
detectron2's ``SemSegFPNHead`` (1.4) and :class:`FaPNDecoder` the two together (``fapn_r50``).
:class:`FaPNRealtimeDecoder` is the real-time model of Appendix B (1.6), which has no released code:
its wiring is the spec's reconstruction, which reproduces Table I's parameters and FLOPs exactly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.conv import ConvBNAct
from ..ops.fapn import Conv2dNorm, DeformableFeatureAlignment, FeatureSelectionModule, NeckNorm, c2_xavier_fill
from ..ops.resize import is_exporting
from .base import Decoder, DecoderFeatures

__all__ = ["FaPNDecoder", "FaPNNeck", "FaPNRealtimeDecoder", "SemanticFPNHead"]

UpsampleMode = Literal["bilinear", "nearest"]


def _c2_msra_fill(conv: nn.Conv2d) -> None:
    """detectron2's ``c2_msra_fill``: kaiming-normal (fan_out, ReLU), zero bias."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def _upsample(x: Tensor, size: Sequence[int] | torch.Size, mode: UpsampleMode) -> Tensor:
    """Resize to ``size``; skipped at equal sizes in eager mode, always recorded while exporting."""
    if not is_exporting() and tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode=mode, align_corners=False if mode == "bilinear" else None)


def _level_names(num_levels: int, strides: Sequence[int] | None) -> list[str]:
    """detectron2's level names ``p<log2(stride)>``; without strides the levels are at 4, 8, 16, ..."""
    strides = [4 * 2**i for i in range(num_levels)] if strides is None else list(strides)
    if len(strides) != num_levels:
        raise ValueError(f"got {len(strides)} strides for {num_levels} feature maps")
    if any(b != 2 * a for a, b in itertools.pairwise(strides)):
        raise ValueError(f"strides {strides} must double from one level to the next")
    return [f"p{int(math.log2(s))}" for s in strides]


class FaPNNeck(nn.Module):
    """The released FaPN neck (detectron2 ``FAN``): a top-down pathway of deformable feature alignments.

    ``prev = Conv1x1(C5)`` (with bias) is P5 as it is (no 3×3 on P5); then for each finer map C_i,
    ``prev = FAM(C_i, prev)`` and ``P_i = Conv3x3(prev)`` (bias, no activation). The pathway carries
    ``prev``, not P_i. No normalisation anywhere (``norm=""`` in every released config).
    ``forward`` returns [P2, ..., P5] ordered fine → coarse, all with ``channels`` channels.

    Modules are keyed by detectron2 level name: ``top`` is the released ``fan_align5``,
    ``aligners["p4"]`` is ``fan_align4`` (FSM + DCN alignment, released key names inside),
    ``outputs["p4"]`` is ``fpn_output4``. ``attention=False`` drops the FSM attention convs (Table 1's
    "FPN + FAM" row); ``p5_output_conv=True`` adds a 3×3 output conv on P5 as in detectron2's FPN.
    ``norm="GN"`` builds the neck as detectron2 does for ``cfg.MODEL.FPN.NORM = "GN"`` (spec 1.7): GroupNorm(32)
    after the top conv, every offset conv and every output conv, whose biases go; the FSMs stay linear.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        *,
        channels: int = 256,
        strides: Sequence[int] | None = None,
        deform_groups: int = 8,
        upsample_mode: UpsampleMode = "bilinear",
        attention: bool = True,
        deform: bool = True,
        offset_input_scale: float = 2.0,
        p5_output_conv: bool = False,
        norm: NeckNorm = "",
    ) -> None:
        super().__init__()
        if len(in_channels) < 2:
            raise ValueError(f"the FaPN neck needs at least 2 feature maps, got {len(in_channels)}")
        self.level_names = _level_names(len(in_channels), strides)
        self.top = Conv2dNorm(in_channels[-1], channels, 1, norm=norm)
        self.aligners = nn.ModuleDict({
            name: DeformableFeatureAlignment(c, channels, deform_groups=deform_groups, upsample_mode=upsample_mode,
                                             attention=attention, deform=deform,
                                             offset_input_scale=offset_input_scale, norm=norm)
            for name, c in zip(self.level_names[:-1], in_channels[:-1], strict=True)
        })
        out_levels = self.level_names if p5_output_conv else self.level_names[:-1]
        self.outputs = nn.ModuleDict({name: Conv2dNorm(channels, channels, 3, norm=norm) for name in out_levels})

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        prev = self.top(features[-1])
        top_name = self.level_names[-1]
        pyramid = [self.outputs[top_name](prev) if top_name in self.outputs else prev]
        for i in reversed(range(len(self.level_names) - 1)):
            name = self.level_names[i]
            prev = self.aligners[name](features[i], prev)
            pyramid.insert(0, self.outputs[name](prev))
        return pyramid


class _ConvGNAct(nn.Sequential):
    """3×3 conv (no bias) → GroupNorm → ReLU, initialised with ``c2_msra_fill``."""

    def __init__(self, in_channels: int, out_channels: int, num_groups: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.GroupNorm(num_groups, out_channels)
        self.act = nn.ReLU(inplace=True)
        _c2_msra_fill(self.conv)


class SemanticFPNHead(nn.Module):
    """detectron2's ``SemSegFPNHead`` (the Panoptic FPN semantic branch) on a pyramid of equal widths.

    Each level at stride s gets max(1, log2(s / common_stride)) blocks of 3×3 conv-GN-ReLU, each followed
    by a ×2 bilinear upsample (align_corners=False) unless s is the common stride; the levels are summed
    and a 1×1 predictor gives logits at the common stride (the ×4 resize is the segmentor's);
    ``forward_features`` returns the sum the predictor reads.
    Upsampling goes to the size of the next finer pyramid map, which is exactly ×2 for inputs divisible
    by 32 (detectron2 pads to that) and keeps odd input sizes working.
    ``scale_heads["p4"][k]`` is the released ``p4.{2k}`` (its ``.norm`` the GroupNorm).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 128,
        strides: Sequence[int] | None = None,
        common_stride: int = 4,
        num_groups: int = 32,
    ) -> None:
        super().__init__()
        self.level_names = _level_names(len(in_channels), strides)
        self.strides = [2 ** int(name[1:]) for name in self.level_names]
        self.common_stride = common_stride
        heads = {}
        for name, stride, c in zip(self.level_names, self.strides, in_channels, strict=True):
            length = max(1, int(math.log2(stride) - math.log2(common_stride)))
            heads[name] = nn.ModuleList(
                _ConvGNAct(c if k == 0 else channels, channels, num_groups) for k in range(length)
            )
        self.scale_heads = nn.ModuleDict(heads)
        self.predictor = nn.Conv2d(channels, num_classes, 1)
        _c2_msra_fill(self.predictor)

    def forward_features(self, features: Sequence[Tensor]) -> Tensor:
        sizes = {s: f.shape[-2:] for s, f in zip(self.strides, features, strict=True)}
        out = None
        for feature, stride, blocks in zip(features, self.strides, self.scale_heads.values(), strict=True):
            x = feature
            for block in blocks:
                x = block(x)
                if stride != self.common_stride:
                    stride //= 2
                    size = sizes.get(stride, (2 * x.shape[-2], 2 * x.shape[-1]))
                    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            out = x if out is None else out + x
        return out

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        return self.predictor(self.forward_features(features))


class FaPNDecoder(Decoder):
    """The FaPN semantic model of the paper's Table 1/4: :class:`FaPNNeck` + :class:`SemanticFPNHead`.

    Logits at stride 4. The released model adds PointRend's point head on top (spec 1.4), which is not
    built here: its coarse prediction is this head's output. The classifier is the head's ``predictor``
    (released key names), read through the ``classifier`` property.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 256,
        head_channels: int = 128,
        strides: Sequence[int] | None = None,
        deform_groups: int = 8,
        upsample_mode: UpsampleMode = "bilinear",
        attention: bool = True,
        deform: bool = True,
        offset_input_scale: float = 2.0,
        p5_output_conv: bool = False,
        norm: NeckNorm = "",
    ) -> None:
        super().__init__()
        self.neck = FaPNNeck(in_channels, channels=channels, strides=strides, deform_groups=deform_groups,
                             upsample_mode=upsample_mode, attention=attention, deform=deform,
                             offset_input_scale=offset_input_scale, p5_output_conv=p5_output_conv, norm=norm)
        self.head = SemanticFPNHead([channels] * len(in_channels), num_classes, channels=head_channels,
                                    strides=strides)
        self.feature_channels = head_channels

    @property
    def classifier(self) -> nn.Conv2d:
        return self.head.predictor

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        return DecoderFeatures(self.head.forward_features(self.neck(features)), [], [])


class _RealtimeStep(nn.Module):
    """One top-down step of the real-time FaPN: P_{i-1} from C_{i-1} (lateral) and P_i (top).

    Lateral Ĉ = FSM(C) (``fsm=False``: a plain 1×1 conv without bias); top P̂ = ReLU(DCN(P_up)) with
    ``fam`` (offsets from Ĉ and P_up, as in the released FAM), else P̂ = P_up; fused by concat → 1×1
    conv (``concat``) or by a sum.
    """

    def __init__(self, in_channels: int, channels: int, *, fam: bool, fsm: bool, concat: bool,
                 deform_groups: int, upsample_mode: UpsampleMode, offset_input_scale: float,
                 fuse_norm: bool, deform: bool) -> None:
        super().__init__()
        self.upsample_mode = upsample_mode
        if fam:
            self.align = DeformableFeatureAlignment(in_channels, channels, deform_groups=deform_groups,
                                                    upsample_mode=upsample_mode, attention=fsm, deform=deform,
                                                    offset_input_scale=offset_input_scale)
            self.lateral = None
        else:
            self.align = None
            self.lateral = FeatureSelectionModule(in_channels, channels, attention=fsm)
        self.fuse: nn.Module | None = None
        if concat and fuse_norm:
            self.fuse = ConvBNAct(2 * channels, channels, 1)
        elif concat:
            self.fuse = nn.Conv2d(2 * channels, channels, 1, bias=False)
            c2_xavier_fill(self.fuse)

    def forward(self, lateral: Tensor, top: Tensor) -> Tensor:
        if self.align is not None:
            aligned, selected, _, _ = self.align.branches(lateral, top)
        else:
            selected = self.lateral(lateral)
            aligned = _upsample(top, selected.shape[-2:], self.upsample_mode)
        if self.fuse is None:
            return aligned + selected
        return self.fuse(torch.cat([aligned, selected], dim=1))


class FaPNRealtimeDecoder(Decoder):
    """The real-time FaPN of the paper's Appendix B on C3, C4, C5 (spec 1.6), with Table I's ladder.

    P5 = FSM(C5) → ``channels`` (the top is an FSM here, unlike the released neck); for i = 5, 4:
    P_up = nearest upsample of P_i to C_{i-1}'s size, Ĉ = FSM(C_{i-1}), P̂ = FAM alignment of P_up,
    P_{i-1} = Conv1x1(concat[P̂, Ĉ]). Head on P3 (stride 8): 3×3 conv-BN-ReLU → ``head_channels``,
    1×1 → classes. No 3×3 output convs on the pyramid.

    Table I rows: ``fam=False, fsm=False, concat=False`` is the FPN baseline (1×1 laterals and
    top-down sums); ``fam`` adds the deformable alignment, ``fsm`` the FSM attention convs on every
    lateral and on the top, ``concat`` the concatenation fusion. ``upsample_mode`` follows the paper
    (nearest); the released FAM's bilinear is the alternative. ``fuse_norm`` adds BN + ReLU after the
    concat conv (spec 1.6's proposal; not in Table I's counts, so off by default). ``deform=False``
    replaces each DCN with a regular 3×3 conv (a deployment fallback that loses accuracy, FaPN issue #4).
    ``num_levels`` is how many of the coarsest backbone maps are used.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        *,
        channels: int = 128,
        head_channels: int = 64,
        fam: bool = True,
        fsm: bool = True,
        concat: bool = True,
        num_levels: int = 3,
        deform_groups: int = 8,
        upsample_mode: UpsampleMode = "nearest",
        offset_input_scale: float = 2.0,
        fuse_norm: bool = False,
        deform: bool = True,
    ) -> None:
        super().__init__()
        if not 2 <= num_levels <= len(in_channels):
            raise ValueError(f"num_levels must be in 2..{len(in_channels)}, got {num_levels}")
        if upsample_mode not in ("bilinear", "nearest"):
            raise ValueError(f"upsample_mode must be 'bilinear' or 'nearest', got {upsample_mode!r}")
        used = list(in_channels[-num_levels:])
        self.num_levels = num_levels
        self.top = FeatureSelectionModule(used[-1], channels, attention=fsm)
        # steps[0] makes P4 from C4 and P5, steps[1] P3 from C3 and P4, ... (coarse → fine)
        self.steps = nn.ModuleList(
            _RealtimeStep(c, channels, fam=fam, fsm=fsm, concat=concat, deform_groups=deform_groups,
                          upsample_mode=upsample_mode, offset_input_scale=offset_input_scale, fuse_norm=fuse_norm,
                          deform=deform)
            for c in reversed(used[:-1])
        )
        self.head = ConvBNAct(channels, head_channels, 3)
        self.classifier = nn.Conv2d(head_channels, num_classes, 1)
        self.feature_channels = head_channels
        _c2_msra_fill(self.head.conv)
        _c2_msra_fill(self.classifier)

    def forward_features(self, features: Sequence[Tensor]) -> DecoderFeatures:
        used = features[-self.num_levels:]
        p = self.top(used[-1])
        for step, lateral in zip(self.steps, reversed(used[:-1]), strict=True):
            p = step(lateral, p)
        return DecoderFeatures(self.head(p), [], [])
