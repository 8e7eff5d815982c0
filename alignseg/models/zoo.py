"""The named models of the papers, each with the released code's figures and the papers' own.

Every number alignseg claims to reproduce is written here once. ``released`` holds what the official
code builds (spec/sfnet.md 2.1, 2.2: parameters used at eval and GMACs, 19 classes); ``paper`` holds the
published figures with the table they come from. Where the two differ, ``notes`` says why. Models
without released code to count (FaPN's real-time models) hold ``reconstructed`` figures instead: the
exact counts of the specification's reconstruction (spec/fapn_hfgd.md), with the paper's counting rules.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from .backbones import build_backbone
from .decoders import AuxHead
from .decoders.hfgm import HFGMDecoder
from .decoders.registry import BASE_DECODERS
from .ops.deform_conv import ModulatedDeformConv2d
from .segmentor import Segmentor

DECODERS = {**BASE_DECODERS, "hfgm": HFGMDecoder}


@dataclass(frozen=True)
class PaperFigure:
    """One published result: where it comes from and what it says (None = not reported)."""

    source: str
    params_m: float | None = None
    gflops: float | None = None
    gflops_input: str | None = None
    miou: float | None = None
    miou_split: str | None = None
    fps: float | None = None
    fps_setting: str | None = None


@dataclass(frozen=True)
class ReleasedFigures:
    """What the official code builds (19 classes): parameters reaching the eval output, and GMACs."""

    params_used: int
    params_built: int
    gmacs_1024x1024: float
    gmacs_1024x2048: float
    factory: str


@dataclass(frozen=True)
class ReconstructedFigures:
    """Exact figures of a specification's reconstruction where no released code can be counted.

    ``params`` are all parameters used at eval; ``gmacs`` counts every conv and matrix product at
    ``macs_input`` (H, W); ``gmacs_paper_counter`` leaves out the modules the paper's FLOP counter did not
    see (``paper_counter_skips``, e.g. FaPN's deformable conv). None = no figure to hold the model to.
    All are counted with ``num_classes`` classes.
    """

    params: int
    source: str
    macs_input: tuple[int, int] | None = None
    gmacs: float | None = None
    gmacs_paper_counter: float | None = None
    paper_counter_skips: tuple[type[nn.Module], ...] = ()
    num_classes: int = 19  # the classes the figures are counted with (HFGD's: Pascal Context, 59)


@dataclass(frozen=True)
class LossDefaults:
    """The training loss a model is designed for, read by ``alignseg.losses.build_criterion``; a config's
    ``loss.*`` keys override it.

    ``aux_weights``: weight of each named auxiliary output, keyed by output name (``"teacher"``) or by
    family, the name before ``_<index>`` (``"dsn"`` covers ``dsn_0``, ``dsn_1``, ...). ``terms``: extra loss
    terms by their ``LOSS_TERMS`` name with keyword arguments. ``term_weights``: weight of each part a
    term returns (e.g. ``car_intra``).
    """

    aux_weights: Mapping[str, float] = field(default_factory=lambda: {"dsn": 0.4})  # released SFNet recipe
    terms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    term_weights: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ZooEntry:
    """How to build a named model and the figures it is held against."""

    name: str
    backbone: str
    decoder: str
    released: ReleasedFigures | None
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    decoder_kwargs: dict[str, Any] = field(default_factory=dict)
    aux_heads: bool = False
    converter: str | None = "sfsegnets"
    paper: tuple[PaperFigure, ...] = ()
    notes: str = ""
    reconstructed: ReconstructedFigures | None = None
    output_align_corners: bool = True  # the model's resize convention (False: detectron2's), used by loss and inference
    loss_defaults: LossDefaults = field(default_factory=LossDefaults)
    # fnmatch patterns of parameter names no training loss reaches by design (a documented stop-gradient)
    unreached_parameters: tuple[str, ...] = ()


# Backbones as the released SFNet code builds them: deep 128-channel stem and "variant D" dilation.
_RESNET_RELEASED = {"stem": "deep", "dilated": True}
_STDC_LEFTOVERS = ("the released STDC backbone also builds its unused ImageNet classifier (conv_last, fc, bn, "
                   "linear: 3,125,248 parameters), which the paper's count includes; alignseg does not build it")
_LITE_UNUSED = ("the released Lite head also builds a DSN head (150,291) that forward never calls")

_ENTRIES = [
    ZooEntry(
        "sfnet_r18", "resnet18", "aligned_fpn",
        ReleasedFigures(12_869_715, 12_869_715, 121.48, 242.96, "sfnet_resnet.DeepR18_SF_deeply"),
        _RESNET_RELEASED, {"channels": 128},
        paper=(
            PaperFigure("ECCV 2020 Table 3", params_m=12.87, miou=78.9, miou_split="Cityscapes test",
                        fps=18, fps_setting="1080Ti, PyTorch, 1024x2048"),
            PaperFigure("ECCV 2020 Table 4", params_m=12.87, gflops=123.5, gflops_input="1024x1024",
                        miou=79.5, miou_split="Cityscapes test (fine+coarse? see paper)"),
            PaperFigure("IJCV 2023 Table 3", params_m=12.9, miou=79.8, miou_split="Cityscapes test",
                        fps=33.3, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 8(a)", miou=78.3, miou_split="Cityscapes val"),
        ),
        notes="paper GFLOPs are GMACs; 123.5 vs the code's 121.48 GMACs at 1024x1024 (1.7% low, counter "
              "differences, spec sfnet.md 2.2)",
    ),
    ZooEntry(
        "sfnet_r50", "resnet50", "aligned_fpn",
        ReleasedFigures(31_325_139, 31_325_139, 331.67, 663.32, "sfnet_resnet.DeepR50_SF_deeply"),
        _RESNET_RELEASED, {"channels": 256},
        paper=(PaperFigure("IJCV 2023 Table 11", gflops=337.1, gflops_input="1024x1024 (caption says 1024x2048)",
                           miou=79.2, miou_split="Cityscapes val"),),
    ),
    ZooEntry(
        "sfnet_r101", "resnet101", "aligned_fpn",
        ReleasedFigures(50_317_267, 50_317_267, 409.25, 818.47, "sfnet_resnet.DeepR101_SF_deeply"),
        _RESNET_RELEASED, {"channels": 256},
        paper=(
            PaperFigure("ECCV 2020 Table 4", params_m=50.32, gflops=417.5, gflops_input="1024x1024",
                        miou=81.8, miou_split="Cityscapes test"),
            PaperFigure("IJCV 2023 Table 11", gflops=417.5, gflops_input="1024x1024 (caption says 1024x2048)",
                        miou=79.8, miou_split="Cityscapes val"),
        ),
    ),
    ZooEntry(
        "sfnet_df1", "df1", "aligned_fpn",
        ReleasedFigures(8_422_387, 8_422_387, 16.36, 32.73, "sfnet_dfnet.AlignedDFnetv1_FPNDSN"),
        decoder_kwargs={"channels": 64}, aux_heads=True,
        paper=(
            PaperFigure("ECCV 2020 Table 3", params_m=9.03, miou=74.5, miou_split="Cityscapes test",
                        fps=74, fps_setting="1080Ti, PyTorch, 1024x2048"),
            PaperFigure("IJCV 2023 Table 3", params_m=9.0, miou=74.5, miou_split="Cityscapes test",
                        fps=134.5, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 11", gflops=18.7, miou=74.3, miou_split="Cityscapes val"),
        ),
        notes="the released code builds 8.42M parameters (8.50M with its 2 train-only DSN heads); no "
              "configuration of it gives the papers' 9.03M. It predicts at stride 16 from 3 backbone levels "
              "(spec sfnet.md 3.5, 5.6). Trained with 2 deep-supervision heads as released.",
    ),
    ZooEntry(
        "sfnet_df2", "df2", "aligned_fpn",
        ReleasedFigures(17_876_467, 17_876_467, 39.99, 79.97, "sfnet_dfnet.AlignedDFnetv2_FPNDSN"),
        decoder_kwargs={"channels": 64}, aux_heads=True,
        paper=(
            PaperFigure("ECCV 2020 Table 3", params_m=10.53, miou=77.8, miou_split="Cityscapes test",
                        fps=53, fps_setting="1080Ti, PyTorch, 1024x2048"),
            PaperFigure("IJCV 2023 Table 3", params_m=19.6, miou=77.8, miou_split="Cityscapes test",
                        fps=103.1, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 11", gflops=48.5, miou=75.8, miou_split="Cityscapes val"),
        ),
        notes="the released code builds 17.88M parameters (ECCV says 10.53M, IJCV 19.63M) and predicts at "
              "stride 8 (spec sfnet.md 3.5, 5.6).",
    ),
    ZooEntry(
        "sfnet_stdc1", "stdc1", "aligned_fpn",
        ReleasedFigures(5_992_371, 9_117_619, 29.72, 59.44, "sfnet_stdcnet.AlignedSTDC1"),
        decoder_kwargs={"channels": 64},
        paper=(
            PaperFigure("IJCV 2023 Table 3", params_m=9.1, miou=78.1, miou_split="Cityscapes test",
                        fps=97.1, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 11", gflops=59.8, gflops_input="1024x2048", miou=76.7,
                        miou_split="Cityscapes val"),
        ),
        notes=_STDC_LEFTOVERS,
    ),
    ZooEntry(
        "sfnet_stdc2", "stdc2", "aligned_fpn",
        ReleasedFigures(10_022_835, 13_148_083, 42.91, 85.81, "sfnet_stdcnet.AlignedSTDC2"),
        decoder_kwargs={"channels": 64},
        paper=(
            PaperFigure("IJCV 2023 Table 3", params_m=13.1, miou=79.8, miou_split="Cityscapes test",
                        fps=79.9, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 11", gflops=86.3, gflops_input="1024x2048", miou=77.4,
                        miou_split="Cityscapes val"),
        ),
        notes=_STDC_LEFTOVERS,
    ),
    ZooEntry(
        "sfnet_lite_r18", "resnet18", "lite",
        ReleasedFigures(12_079_863, 12_296_074, 88.98, 177.95, "sfnet_resnet.DeepR18_SFV2_deeply_dsn_FA_Atten"),
        _RESNET_RELEASED, {"channels": 128, "gate": "pooled"},
        paper=(
            PaperFigure("IJCV 2023 Table 3", params_m=12.3, miou=80.1, miou_split="Cityscapes test",
                        fps=48.9, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 1", fps=40.2, fps_setting="RTX-3090, PyTorch, 1024x2048"),
        ),
        notes=_LITE_UNUSED + " and a 512->128 lateral (65,920) that is never used; the paper counts both.",
    ),
    ZooEntry(
        "sfnet_lite_stdc1", "stdc1", "lite",
        ReleasedFigures(6_433_623, 9_709_162, 37.08, 74.15, "sfnet_stdcnet.AlignedSTDC1_SFV2_spatial_atten"),
        decoder_kwargs={"channels": 128, "gate": "pooled"},
        paper=(
            PaperFigure("IJCV 2023 Table 3", params_m=9.7, miou=78.8, miou_split="Cityscapes test",
                        fps=119.1, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 11", gflops=59.0, miou=76.5, miou_split="Cityscapes val"),
        ),
        notes=_STDC_LEFTOVERS + "; " + _LITE_UNUSED + ". IJCV Table 11's 59.0 GFLOPs cannot be this model "
              "(74.15 GMACs at 1024x2048; spec sfnet.md 2.2).",
    ),
    ZooEntry(
        "sfnet_lite_stdc2", "stdc2", "lite",
        ReleasedFigures(10_464_087, 13_739_626, 50.26, 100.52, "sfnet_stdcnet.AlignedSTDC2_SFV2_spatial_atten"),
        decoder_kwargs={"channels": 128, "gate": "pooled"},
        paper=(
            PaperFigure("IJCV 2023 Table 3", params_m=13.7, miou=79.0, miou_split="Cityscapes test",
                        fps=92.3, fps_setting="TITAN-RTX, TensorRT, 1024x2048"),
            PaperFigure("IJCV 2023 Table 11", gflops=86.2, miou=77.5, miou_split="Cityscapes val"),
        ),
        notes=_STDC_LEFTOVERS + "; " + _LITE_UNUSED + ".",
    ),
    ZooEntry(
        "sfnet_lite_stdc1_convgate", "stdc1", "lite",
        ReleasedFigures(6_434_739, 9_710_278, 37.15, 74.30, "sfnet_stdcnet.AlignedSTDC1_SFV2"),
        decoder_kwargs={"channels": 128, "gate": "conv"},
        notes="the released 'spatial' GD-FAM gate (a 3x3 conv on the projections instead of pooled statistics). "
              + _STDC_LEFTOVERS,
    ),
    ZooEntry(
        "sfnet_lite_stdc2_convgate", "stdc2", "lite",
        ReleasedFigures(10_465_203, 13_740_742, 50.34, 100.67, "sfnet_stdcnet.AlignedSTDC2_SFV2"),
        decoder_kwargs={"channels": 128, "gate": "conv"},
        notes="the released 'spatial' GD-FAM gate. " + _STDC_LEFTOVERS,
    ),
    ZooEntry(
        "fpn_ppm_r18", "resnet18", "aligned_fpn",
        ReleasedFigures(12_813_651, 12_813_651, 120.40, 240.81, "sfnet_resnet (UperNetHead, FAM off)"),
        _RESNET_RELEASED, {"channels": 128, "aligned_levels": ()},
        paper=(PaperFigure("IJCV 2023 Table 8(a)", miou=76.6, miou_split="Cityscapes val"),),
        notes="the FPN+PPM baseline: SFNet's decoder with bilinear upsampling instead of every FAM.",
    ),
    ZooEntry(
        "fpn_ppm_r101", "resnet101", "aligned_fpn",
        ReleasedFigures(50_106_835, 50_106_835, 405.33, 810.63, "sfnet_resnet (UperNetHead, FAM off)"),
        _RESNET_RELEASED, {"channels": 256, "aligned_levels": ()},
        paper=(PaperFigure("IJCV 2023 Table 11", gflops=412.7, gflops_input="1024x1024", miou=77.6,
                           miou_split="Cityscapes val"),),
    ),
    ZooEntry(
        "fpn_ppm_stdc1", "stdc1", "aligned_fpn",
        ReleasedFigures(5_976_627, 9_101_875, 29.40, 58.80, "sfnet_stdcnet.STDCnetFPN (STDC1)"),
        decoder_kwargs={"channels": 64, "aligned_levels": ()},
        paper=(PaperFigure("IJCV 2023 Table 11", gflops=58.2, gflops_input="1024x2048", miou=75.0,
                           miou_split="Cityscapes val"),),
        notes=_STDC_LEFTOVERS,
    ),
    ZooEntry(
        "fpn_ppm_stdc2", "stdc2", "aligned_fpn",
        ReleasedFigures(10_007_091, 13_132_339, 42.59, 85.17, "sfnet_stdcnet.STDCnetFPN (STDC2)"),
        decoder_kwargs={"channels": 64, "aligned_levels": ()},
        paper=(PaperFigure("IJCV 2023 Table 11", gflops=85.0, gflops_input="1024x2048", miou=75.6,
                           miou_split="Cityscapes val"),),
        notes=_STDC_LEFTOVERS,
    ),
    ZooEntry(
        "fcn_r18", "resnet18", "fcn", None,
        _RESNET_RELEASED, {"channels": 128}, converter=None,
        paper=(PaperFigure("IJCV 2023 Table 8(a)", miou=71.5, miou_split="Cityscapes val"),),
        notes="the no-decoder baseline: a 3x3 conv-BN-ReLU and a classifier on the stride-32 map of the same "
              "backbone as sfnet_r18 (no released counterpart).",
    ),
]

# ---------------------------------------------------------------------------------------------------
# FaPN (ICCV 2021; spec/fapn_hfgd.md Part 1). The real-time models (Appendix B) have no released code
# or weights (FaPN issue #2): they hold the spec's reconstruction (1.6), which gives Table I's parameters
# and FLOPs exactly. Table I's "FLOPs" are MACs at 768x1536 that leave the deformable conv itself out.
# The real-time models use the torchvision ResNet layout (7x7 stem, no dilation), fapn_r50 detectron2's
# (stride in the first 1x1 of each bottleneck); all resize logits with detectron2's align_corners=False.
_FAPN_TRUNK = {"stem": "standard"}
_FAPN_DCN = (ModulatedDeformConv2d,)
_FAPN_REALTIME = ("no released code or weights: the wiring is the spec's reconstruction (1.6): FSM on C3-C5, "
                  "FAM with 8 deformable groups, nearest upsampling (Appendix B), concat -> 1x1 conv without BN "
                  "(the count Table I gives), head 3x3 conv-BN-ReLU 128->64 + 1x1 on P3 (the only head that fits "
                  "Table I). Table I's FLOPs leave the deformable conv uncounted (gmacs_paper_counter).")
_FAPN_R34_LADDER = "Table I ablates ResNet-18 only; this is the same decoder on ResNet-34 (no published figures)."
_FAPN_CITY = "Cityscapes val"


def _fapn_table_i(row: str, params_m: float, gflops: float, miou: float) -> PaperFigure:
    return PaperFigure(f"ICCV 2021 Table I ({row})", params_m=params_m, gflops=gflops,
                       gflops_input="768x1536 (MACs, deformable conv not counted)", miou=miou,
                       miou_split=_FAPN_CITY)


def _fapn_r18_figures(params: int, gmacs: float, gmacs_paper_counter: float) -> ReconstructedFigures:
    return ReconstructedFigures(params, "spec fapn_hfgd.md 1.6 (Table I reconstruction)", (768, 1536), gmacs,
                                gmacs_paper_counter, _FAPN_DCN)


def _fapn_r34_figures(params: int) -> ReconstructedFigures:
    return ReconstructedFigures(params, "spec 1.6 wiring on ResNet-34: 21,284,672 trunk + the R18 decoder")


_FPN_BASELINE = {"fam": False, "fsm": False, "concat": False}
_FAM_ONLY = {"fsm": False, "concat": False}
_FAM_FSM = {"concat": False}

_ENTRIES += [
    ZooEntry(
        "fapn_r18", "resnet18", "fapn_realtime", None, _FAPN_TRUNK, converter=None, output_align_corners=False,
        reconstructed=_fapn_r18_figures(12_634_691, 55.19, 51.79),
        paper=(
            _fapn_table_i("+ FAM + FSM + Concat", 12.6, 51.8, 75.6),
            PaperFigure("ICCV 2021 Table 8(a), 768x1536", miou=75.6, miou_split=_FAPN_CITY,
                        fps=78.1, fps_setting="Titan RTX, PyTorch, 768x1536"),
            PaperFigure("ICCV 2021 Table 8(a), 768x1536", miou=75.0, miou_split="Cityscapes test"),
            PaperFigure("ICCV 2021 Table 8(a), 512x1024", miou=69.2, miou_split=_FAPN_CITY,
                        fps=142, fps_setting="Titan RTX, PyTorch, 512x1024"),
            PaperFigure("ICCV 2021 Table 8(a), 512x1024", miou=68.8, miou_split="Cityscapes test"),
            PaperFigure("ICCV 2021 Table 8(b), 640x640", miou=28.4, miou_split="COCO-Stuff-10K val",
                        fps=154, fps_setting="Titan RTX, PyTorch, 640x640"),
        ),
        notes=_FAPN_REALTIME,
    ),
    ZooEntry(
        "fapn_r18_fpn", "resnet18", "fapn_realtime", None, _FAPN_TRUNK, _FPN_BASELINE, converter=None,
        output_align_corners=False, reconstructed=_fapn_r18_figures(11_366_291, 44.55, 44.55),
        paper=(_fapn_table_i("FPN", 11.4, 44.5, 68.6),),
        notes="Table I's FPN baseline: 1x1 laterals (no bias) to 128 and top-down sums with nearest "
              "upsampling, no 3x3 output convs, the same head as fapn_r18.",
    ),
    ZooEntry(
        "fapn_r18_fam", "resnet18", "fapn_realtime", None, _FAPN_TRUNK, _FAM_ONLY, converter=None,
        output_align_corners=False, reconstructed=_fapn_r18_figures(12_225_091, 54.44, 51.04),
        paper=(_fapn_table_i("+ FAM", 12.2, 51.0, 73.8),),
        notes="Table I's '+ FAM' row: the FPN baseline with the deformable alignment (laterals stay plain "
              "1x1 convs, fusion stays a sum). " + _FAPN_REALTIME,
    ),
    ZooEntry(
        "fapn_r18_fam_fsm", "resnet18", "fapn_realtime", None, _FAPN_TRUNK, _FAM_FSM, converter=None,
        output_align_corners=False, reconstructed=_fapn_r18_figures(12_569_155, 54.44, 51.04),
        paper=(_fapn_table_i("+ FAM + FSM", 12.6, 51.0, 74.2),),
        notes="Table I's '+ FAM + FSM' row: fusion by sum. " + _FAPN_REALTIME,
    ),
    ZooEntry(
        "fapn_r34", "resnet34", "fapn_realtime", None, _FAPN_TRUNK, converter=None, output_align_corners=False,
        reconstructed=_fapn_r34_figures(22_742_851),
        paper=(
            PaperFigure("ICCV 2021 Table 8(a), 1024x2048", miou=78.5, miou_split=_FAPN_CITY,
                        fps=30.2, fps_setting="Titan RTX, PyTorch, 1024x2048"),
            PaperFigure("ICCV 2021 Table 8(a), 1024x2048", miou=78.1, miou_split="Cityscapes test"),
            PaperFigure("ICCV 2021 Table 8(b), 640x640", miou=30.3, miou_split="COCO-Stuff-10K val",
                        fps=110, fps_setting="Titan RTX, PyTorch, 640x640"),
        ),
        notes=_FAPN_REALTIME,
    ),
    ZooEntry(
        "fapn_r34_fpn", "resnet34", "fapn_realtime", None, _FAPN_TRUNK, _FPN_BASELINE, converter=None,
        output_align_corners=False, reconstructed=_fapn_r34_figures(21_474_451), notes=_FAPN_R34_LADDER,
    ),
    ZooEntry(
        "fapn_r34_fam", "resnet34", "fapn_realtime", None, _FAPN_TRUNK, _FAM_ONLY, converter=None,
        output_align_corners=False, reconstructed=_fapn_r34_figures(22_333_251), notes=_FAPN_R34_LADDER,
    ),
    ZooEntry(
        "fapn_r34_fam_fsm", "resnet34", "fapn_realtime", None, _FAPN_TRUNK, _FAM_FSM, converter=None,
        output_align_corners=False, reconstructed=_fapn_r34_figures(22_677_315), notes=_FAPN_R34_LADDER,
    ),
    ZooEntry(
        "fapn_r50", "resnet50", "fapn", None, {"stem": "standard", "stride_in_1x1": True}, converter="fapn",
        output_align_corners=False,
        reconstructed=ReconstructedFigures(
            32_921_179, "spec 1.3/1.4: trunk 23,508,032 + FaPN neck 7,786,888 + SemSegFPNHead 1,626,259"),
        paper=(
            PaperFigure("ICCV 2021 Table 1", params_m=33.1, miou=80.0, miou_split=_FAPN_CITY),
            PaperFigure("ICCV 2021 Table 4 (also iIoU 61.3, IoU sup 90.6, iIoU sup 78.5)", miou=80.0,
                        miou_split=_FAPN_CITY),
            PaperFigure("ICCV 2021 Table 2 (boundary pixels, mean over 3/5/8/12 px)", miou=58.5,
                        miou_split=_FAPN_CITY),
        ),
        notes="the released detectron2 model (FAN neck + PointRend semantic head). alignseg builds the coarse "
              "SemSegFPNHead but not PointRend's point head (207,123 parameters: 33.13M in all, the paper's "
              "33.1M), so it predicts at stride 4 and a converted checkpoint drops the point head (expect "
              "slightly below 80.0). The trunk has detectron2's MSRA layout (stride in the first 1x1 conv of "
              "each bottleneck, STRIDE_IN_1X1), as the released checkpoints were trained; the parameters are "
              "torchvision's. The converter folds detectron2's BGR 0-255 input normalisation into the stem.",
    ),
]
# --- end of FaPN ------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------------
# The toolbox baselines of HFGD Table 8 (Pascal Context 59, R50, without HFGM): UperNet and DeepLabV3+ as
# mmseg builds them (UPerHead; DepthwiseSeparableASPPHead), on the torchvision-layout ResNet-50. Their
# figures are exact counts of these modules (19 classes) with GMACs at 513x513, HFGD's counting input.
_HFGD_T8 = "HFGD Table 8 (without HFGM)"
_PASCAL_CONTEXT = "Pascal Context 59 val"

_ENTRIES += [
    ZooEntry(
        "upernet_r50", "resnet50", "upernet", None, {"stem": "standard"}, converter=None,
        output_align_corners=False,
        reconstructed=ReconstructedFigures(
            64_031_315, "mmseg UPerHead, 512 channels: trunk 23,508,032 + head 40,513,536 + 1x1 classifier",
            (513, 513), 240.92),
        paper=(PaperFigure(_HFGD_T8, miou=48.25, miou_split=_PASCAL_CONTEXT),),
        notes="UperNet as mmseg's UPerHead: PPM (bins 1, 2, 3, 6; 1x1 conv-BN-ReLU branches) on C5 fused by a 3x3 "
              "conv, 1x1 laterals, top-down sums, 3x3 FPN convs, concat of all levels at stride 4, 3x3 "
              "fpn_bottleneck, dropout 0.1, 1x1 classifier; align_corners False; no auxiliary FCN head. HFGD "
              "does not say which UperNet it ran; this is the common toolbox one.",
    ),
    ZooEntry(
        "deeplabv3plus_r50", "resnet50", "deeplabv3plus", None, {"stem": "standard", "output_stride": 16},
        converter=None, output_align_corners=False,
        reconstructed=ReconstructedFigures(
            41_205_955, "mmseg DepthwiseSeparableASPPHead, 512 channels, rates (1, 6, 12, 18) at output stride "
            "16: trunk 23,508,032 + head 17,688,176 + 1x1 classifier", (513, 513), 61.22),
        paper=(PaperFigure(_HFGD_T8 + ", 'R50 (D8)'", miou=48.11, miou_split=_PASCAL_CONTEXT),),
        notes="DeepLabV3+ as mmseg's DepthwiseSeparableASPPHead (512 channels; image pooling, a 1x1 and three "
              "depthwise-separable 3x3 ASPP branches, plain 3x3 fusion; 48-channel stride-4 skip; two separable "
              "3x3 convs; dropout 0.1) on a ResNet-50 with output stride 16 (layer4 dilated by 2), rates "
              "(1, 6, 12, 18) as the paper's OS16 setting. HFGD's row says 'R50 (D8)' (output stride 8, rates "
              "(1, 12, 24, 36) in mmseg): output_stride=8 on the backbone with those rates builds it.",
    ),
]
# --- end of the HFGD Table 8 baselines ----------------------------------------------------------------

# ---------------------------------------------------------------------------------------------------
# HFGD (arXiv 2303.08646; spec/fapn_hfgd.md Part 2). No model code was ever published: the wiring is the
# spec's reconstruction from the paper and the author's building blocks (CAR, iSeg), each [AMBIG] item at
# the spec's proposed default (2.7). Figures are counted with Pascal Context's 59 classes at 513x513, on
# the keras-layout ResNet-50 of iSeg (stride in the first 1x1 conv: 21.31 GMACs; keras' conv biases change
# no MAC count and are not built, so torchvision ImageNet weights load).
_HFGD_R50 = {"stem": "standard", "stride_in_1x1": True}
_PC = "Pascal Context val"
_HFGD_SOURCE = "spec fapn_hfgd.md 2.1-2.6 (HFGD reconstruction)"
_HFGD_DEFAULTS = ("defaults of spec 2.7: CAE top (wide 1x1 2048 + reduce 512, BN+ReLU; SA; CAR; trailing 1x1 "
                  "Conv+BN+ReLU 256), stop-gradients on C2-C4, f_h and the student's class tokens (weight and "
                  "bias), 4-head axial attention with a residual on the final 256-d feature, OS2 blocks at OS4 "
                  "then x2; decoder_options expose the alternatives (encoder, trailing_kernel, wide_channels, "
                  "guidance, axial_attention, axial_clip, sg_levels, sg_tokens; the wrapped decoder's "
                  "lateral_kernel, output_stride, top).")
_HFGD_FLOPS = ("Table 9's 'GFLOPs' are GMACs. A wiring that follows the text counts {ours} GMACs against the "
               "paper's {paper}: the paper's count holds an undescribed component of about 0.3 MMAC per output "
               "pixel (spec 2.6), so the difference is expected, not a target.")


def _hfgd_figures(params: int, gmacs: float, source: str = _HFGD_SOURCE) -> ReconstructedFigures:
    return ReconstructedFigures(params, source, (513, 513), gmacs, num_classes=59)


# spec 2.2 / 2.7 item 4: L = L_u + L_h + 1·L_intra + 1·(L_c2c + L_c2p)
_HFGD_LOSS = LossDefaults(aux_weights={"teacher": 1.0}, terms={"car": {}},
                          term_weights={"car_intra": 1.0, "car_c2c": 1.0, "car_c2p": 1.0})
_HFGM_LOSS = LossDefaults(aux_weights={"teacher": 1.0})  # no CAE: no CAR losses


def _hfgm(decoder: str, decoder_options: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return {"decoder": decoder, "decoder_options": decoder_options or {}, **options}


_USFPN = {"lateral_kernel": 3, "top": "none"}
# ConvNeXt's output LayerNorms of C2..C4 feed only the upsampler, behind HFGD's stop-gradient: no loss trains
# them (they stay the identity affine they start as, or what an ImageNet/segmentation file holds).
_CONVNEXT_SG_NORMS = ("backbone.norm0.*", "backbone.norm1.*", "backbone.norm2.*")

_ENTRIES += [
    ZooEntry(
        "semantic_fpn_r50", "resnet50", "semantic_fpn", None, _HFGD_R50, converter=None,
        reconstructed=_hfgd_figures(37_751_675, 46.10),
        paper=(
            PaperFigure("HFGD Table 3/7 (Identity, no HFGM)", miou=47.14, miou_split=_PC),
            PaperFigure("HFGD Table 9", gflops=45.65, gflops_input="513x513", miou=47.14, miou_split=_PC),
            PaperFigure("HFGD Table 12", miou=76.44, miou_split="Cityscapes val"),
        ),
        notes="iSeg's SemanticFPN as HFGD's baseline (spec 2.4): 1x1 Conv+BN+ReLU laterals to 256, top-down sums "
              "without output convs, semantic head at F=256, top = CAR's FCN head (3x3 512 + 1x1 256). 46.10 "
              "GMACs against Table 9's 45.65 (+1%, counter differences, spec 2.6).",
    ),
    ZooEntry(
        "hfgd_r50_os4", "resnet50", "hfgm", None, _HFGD_R50, _hfgm("semantic_fpn", _USFPN), converter=None,
        loss_defaults=_HFGD_LOSS,
        reconstructed=_hfgd_figures(38_283_003, 66.09),
        paper=(
            PaperFigure("HFGD Table 6/7 (CAE + U-SFPN + HFGM)", miou=50.76, miou_split=_PC),
            PaperFigure("HFGD Table 9", gflops=71.63, gflops_input="513x513", miou=50.76, miou_split=_PC),
            PaperFigure("HFGD Table 12", miou=79.11, miou_split="Cityscapes val"),
        ),
        notes="HFGD at output stride 4: CAE + U-SFPN (3x3 laterals) + HFGM. " + _HFGD_DEFAULTS + " "
              + _HFGD_FLOPS.format(ours="66.09", paper="71.63 (-7.7%)"),
    ),
    ZooEntry(
        "hfgd_r50_os2", "resnet50", "hfgm", None, _HFGD_R50, _hfgm("semantic_fpn", {**_USFPN, "output_stride": 2}),
        converter=None, loss_defaults=_HFGD_LOSS, reconstructed=_hfgd_figures(40_644_347, 134.24),
        paper=(
            PaperFigure("HFGD Table 9", gflops=153.62, gflops_input="513x513", miou=51.00, miou_split=_PC),
            PaperFigure("HFGD Table 12", miou=79.81, miou_split="Cityscapes val"),
        ),
        notes="HFGD at output stride 2: every U-SFPN branch gets one more 3x3 block at OS4 then x2 (align-corners "
              "doubling 2h-1: 257 at 513), sum, end conv, axial attention and classifier at OS2. " + _HFGD_DEFAULTS
              + " " + _HFGD_FLOPS.format(ours="134.24", paper="153.62 (-12.6%)"),
    ),
    ZooEntry(
        "fapn_r50_hfgm", "resnet50", "hfgm", None, _HFGD_R50,
        _hfgm("fapn", {"head_channels": 256}, encoder="fcn"), converter=None, loss_defaults=_HFGM_LOSS,
        output_align_corners=False, reconstructed=_hfgd_figures(
            44_750_851, 90.20, "fapn_r50 + spec 2.2's HFGM with the FCN top (deformable conv counted)"),
        paper=(PaperFigure("HFGD Table 8 (FaPN + HFGM; 47.50 without)", miou=49.87, miou_split=_PC),),
        notes="HFGM around FaPN's decoder (fapn_r50's neck, its SemanticFPN head at 256 channels so that the "
              "shared class tokens keep HFGD's width): Table 8 lists no extra encoding, so f_h comes from CAR's "
              "FCN head (3x3 512 + 1x1 256) and there are no CAR losses; stop-gradients and axial attention as in "
              "HFGD. The MSRA-layout R50 of fapn_r50 is the keras layout HFGD counts with.",
    ),
    ZooEntry(
        "sfnet_r50_hfgm", "resnet50", "hfgm", None, _RESNET_RELEASED,
        _hfgm("aligned_fpn", {"channels": 256}, encoder="fcn"), converter=None, loss_defaults=_HFGM_LOSS,
        reconstructed=_hfgd_figures(38_808_827, 93.42, "sfnet_r50 + spec 2.2's HFGM with the FCN top"),
        notes="HFGM around SFNet-R50's aligned decoder (not in the HFGD paper): its PPM reads f_h from CAR's FCN "
              "head (Table 8's decoders take no extra encoding), the stop-gradients and axial attention as in "
              "HFGD; the sfnet_r50 backbone (deep stem, variant D).",
    ),
    ZooEntry(
        "upernet_r50_hfgm", "resnet50", "hfgm", None, {"stem": "standard"},
        _hfgm("upernet", encoder="fcn", feature_channels=512), converter=None, loss_defaults=_HFGM_LOSS,
        output_align_corners=False,
        reconstructed=_hfgd_figures(64_317_563, 259.47, "upernet_r50 + spec 2.2's HFGM with the FCN top at 512"),
        paper=(PaperFigure("HFGD Table 8 (UperNet + HFGM; 48.25 without)", miou=49.96, miou_split=_PC),),
        notes="HFGM around upernet_r50's UPerHead at its 512 channels (tokens, f_h and axial attention 512 wide): "
              "f_h = CAR's FCN head (3x3 512 + 1x1 512) on C5 is the teacher and the UPerHead's PPM reads sg(f_h). "
              "Reading not built: Table 8's 'EE: PPM' could mean the PPM itself is the teacher's encoder.",
    ),
    ZooEntry(
        "deeplabv3plus_r50_hfgm", "resnet50", "hfgm", None, {"stem": "standard", "output_stride": 16},
        _hfgm("deeplabv3plus", encoder="fcn", feature_channels=512), converter=None, loss_defaults=_HFGM_LOSS,
        output_align_corners=False,
        reconstructed=_hfgd_figures(47_732_971, 86.17, "deeplabv3plus_r50 + spec 2.2's HFGM with the FCN top"),
        paper=(PaperFigure("HFGD Table 8 (DeepLabV3+ + HFGM, 'R50 (D8)'; 48.11 without)", miou=49.70,
                           miou_split=_PC),),
        notes="HFGM around deeplabv3plus_r50 (output stride 16) at its 512 channels: f_h = CAR's FCN head on the "
              "stride-16 C5 is the teacher, the ASPP reads sg(f_h), the stride-4 skip reads sg(C2). Reading not "
              "built: Table 8's 'EE: ASPP' could mean the ASPP itself is the teacher's encoder.",
    ),
    ZooEntry(
        "hfgd_convnext_l_os4", "convnext_large", "hfgm", None, {},
        _hfgm("semantic_fpn", _USFPN, wide_channels=2048), converter=None, loss_defaults=_HFGD_LOSS,
        unreached_parameters=_CONVNEXT_SG_NORMS,
        reconstructed=_hfgd_figures(208_927_227, 218.52, "hfgd_r50_os4's wiring on ConvNeXt-L"),
        paper=(
            PaperFigure("HFGD Table 10 (single-scale; 64.9 multi-scale + flip)", miou=63.8, miou_split=_PC),
            PaperFigure("HFGD Table 11 (single-scale; 49.4 MF)", miou=49.0, miou_split="COCO-Stuff-164k val"),
            PaperFigure("HFGD Table 15 (single-scale; 55.4 MF)", miou=54.3, miou_split="ADE20K val"),
        ),
        notes="HFGD on ConvNeXt-L at output stride 4; the CAE's wide linear is 2048 wide as the paper states "
              "(the C5 map has 1536 channels). The paper does not say at which output stride the Pascal Context, "
              "COCO-Stuff and ADE20K rows ran; they are listed here. " + _HFGD_DEFAULTS,
    ),
    ZooEntry(
        "hfgd_convnext_l_os2", "convnext_large", "hfgm", None, {},
        _hfgm("semantic_fpn", {**_USFPN, "output_stride": 2}, wide_channels=2048), converter=None,
        loss_defaults=_HFGD_LOSS, unreached_parameters=_CONVNEXT_SG_NORMS,
        reconstructed=_hfgd_figures(211_288_571, 285.50, "hfgd_r50_os2's wiring on ConvNeXt-L"),
        paper=(PaperFigure("HFGD Table 13 (OS2, single-scale; 84.0 multi-scale + flip)", miou=83.2,
                           miou_split="Cityscapes val"),),
        notes="HFGD on ConvNeXt-L at output stride 2 (the Cityscapes model). " + _HFGD_DEFAULTS,
    ),
    ZooEntry(
        "semantic_fpn_r18", "resnet18", "semantic_fpn", None, {"stem": "standard"}, {"channels": 128},
        converter=None, reconstructed=_hfgd_figures(14_718_971, 16.03, "semantic_fpn_r50's wiring at F=128"),
        notes="CPU-sized SemanticFPN for the CamVid benchmark: torchvision-layout ResNet-18, F=128.",
    ),
    ZooEntry(
        "hfgd_r18_os4", "resnet18", "hfgm", None, {"stem": "standard"},
        _hfgm("semantic_fpn", {**_USFPN, "channels": 128}, feature_channels=128), converter=None,
        loss_defaults=_HFGD_LOSS,
        reconstructed=_hfgd_figures(14_247_419, 19.64, "hfgd_r50_os4's wiring on ResNet-18 at F=128"),
        notes="CPU-sized HFGD (OS4) for the CamVid benchmark: torchvision-layout ResNet-18, CAE 512 wide "
              "(the C5 width) with the trailing conv to 128, U-SFPN and axial attention at 128 channels. "
              + _HFGD_DEFAULTS,
    ),
]
# --- end of HFGD ------------------------------------------------------------------------------------

ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in _ENTRIES}


def list_models(pattern: str = "*") -> list[str]:
    """Names of the zoo models matching a shell-style wildcard pattern, sorted."""
    return sorted(name for name in ZOO if fnmatch.fnmatch(name, pattern))


def get_entry(name: str) -> ZooEntry:
    """The zoo entry for ``name``; an unknown name is an error listing the valid ones."""
    try:
        return ZOO[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(list_models())}") from None


def build_model(
    name: str,
    *,
    num_classes: int = 19,
    backbone_pretrained: str | None = None,
    aux_heads: bool | None = None,
    decoder_options: Mapping[str, Any] | None = None,
) -> Segmentor:
    """Build the zoo model ``name`` with fresh weights (optionally an ImageNet backbone from a local file).

    ``aux_heads`` adds the deep-supervision heads (one per top-down level); ``None`` follows the
    released training recipe of that model. ``decoder_options`` override the entry's decoder arguments
    (e.g. ``{"norm": "GN"}`` for ``fapn_r50``, ``{"deform": False}`` for a FaPN without deformable conv);
    a wrapper's ``decoder_options`` (HFGM's wrapped decoder) merge into the entry's.
    """
    entry = get_entry(name)
    decoder_kwargs = {**entry.decoder_kwargs, **_checked_decoder_options(entry, decoder_options or {})}
    if isinstance(entry.decoder_kwargs.get("decoder_options"), Mapping):  # a wrapper: merge the inner options
        decoder_kwargs["decoder_options"] = {**entry.decoder_kwargs["decoder_options"],
                                             **decoder_kwargs["decoder_options"]}
    backbone = build_backbone(entry.backbone, pretrained=backbone_pretrained, **entry.backbone_kwargs)
    decoder = DECODERS[entry.decoder](backbone.channels, num_classes, **decoder_kwargs)
    with_aux = entry.aux_heads if aux_heads is None else aux_heads
    heads = None
    if with_aux:
        if entry.decoder != "aligned_fpn":
            raise ValueError(f"{name}: deep-supervision heads exist only for the aligned FPN decoder")
        channels = decoder_kwargs["channels"]
        heads = [AuxHead(channels, num_classes) for _ in range(len(backbone.channels) - 1)]
    return Segmentor(backbone, decoder, heads, align_corners=entry.output_align_corners)


def _checked_decoder_options(entry: ZooEntry, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` if the entry's decoder takes every one of them, else one error listing what it takes."""
    cls = DECODERS[entry.decoder]
    accepted = list(inspect.signature(cls).parameters)[2:]  # after in_channels and num_classes
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{entry.name}: decoder {cls.__name__} has no option {', '.join(map(repr, unknown))}; "
                         f"it takes {', '.join(accepted)}")
    return dict(options)
