"""Released FaPN checkpoints (EMI-Group/FaPN, detectron2) → alignseg ``fapn_*`` models.

detectron2 names (spec fapn_hfgd.md 1.3, 1.4; detectron2 ``ResNet``/``FAN``/``SemSegFPNHead``):

- trunk ``backbone.bottom_up.stem.conv1.*`` and ``backbone.bottom_up.res{2..5}.{block}.conv{1,2,3}.*``,
  ``.shortcut.*``; every conv's norm is ``<conv>.norm.{weight,bias,running_mean,running_var}``
  (FrozenBN) → torchvision names ``conv1``/``bn1``, ``layer{1..4}.{block}.conv{k}``/``bn{k}``,
  ``downsample.0``/``downsample.1``;
- neck ``backbone.fan_align5.*`` (the top 1×1 conv: FAN has no ``fpn_lateral*``), ``backbone.fan_align{2..4}.*``
  (FSM + DCN alignment, same names inside), ``backbone.fpn_output{2..4}.*`` → ``decoder.neck.top``,
  ``decoder.neck.aligners.p{i}``, ``decoder.neck.outputs.p{i}``;
- head ``sem_seg_head.coarse_sem_seg_head.p{i}.{j}.*`` (PointRend semantic configs; plain
  ``sem_seg_head.p{i}.{j}.*`` for a ``SemSegFPNHead`` model) with the conv at ``j`` and its GroupNorm at
  ``j.norm`` (``j`` counts the parameter-free upsample modules too) and ``…predictor.*`` →
  ``decoder.head.scale_heads.p{i}.{k}.conv|norm`` and ``decoder.head.predictor``.

Dropped with their reason: PointRend's point head (not built by alignseg) and the ``pixel_mean``/``pixel_std``
buffers. detectron2 feeds the network BGR pixels in 0..255 minus ``pixel_mean``, divided by ``pixel_std``;
alignseg feeds RGB normalised with the ImageNet mean/std. The converter folds that difference into the
stem conv (exact, borders included, for detectron2's defaults), so converted models take alignseg inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..backbones import ResNet
from ..segmentor import Segmentor
from ..weights import load_strict, strip_prefix
from .report import ConversionReport, RenameRule, apply_rules

# alignseg's input normalisation (alignseg.data.transforms.IMAGENET_MEAN/STD; models/ must not import data/).
_ALIGNSEG_MEAN = (0.485, 0.456, 0.406)
_ALIGNSEG_STD = (0.229, 0.224, 0.225)
# detectron2's defaults for the MSRA ImageNet weights every released FaPN config starts from (BGR order).
_DETECTRON2_PIXEL_MEAN = (103.530, 116.280, 123.675)
_DETECTRON2_PIXEL_STD = (1.0, 1.0, 1.0)

_POINT_HEAD = ("PointRend point head (StandardPointHead): alignseg builds the coarse SemSegFPNHead only "
               "(spec 1.4), so the model predicts at stride 4 without point refinement")
_PIXEL_STATS = "detectron2 input normalisation (BGR, 0-255): folded into backbone.conv1.weight"


def _trunk_rules() -> list[RenameRule]:
    rules = [
        RenameRule(r"backbone\.bottom_up\.stem\.conv1\.norm\.", "backbone.bn1."),
        RenameRule(r"backbone\.bottom_up\.stem\.conv1\.", "backbone.conv1."),
    ]
    for stage in range(2, 6):
        src, dst = rf"backbone\.bottom_up\.res{stage}\.(\d+)\.", rf"backbone.layer{stage - 1}.\1."
        rules += [
            RenameRule(src + r"conv(\d)\.norm\.", dst + r"bn\2."),
            RenameRule(src + r"conv(\d)\.", dst + r"conv\2."),
            RenameRule(src + r"shortcut\.norm\.", dst + "downsample.1."),
            RenameRule(src + r"shortcut\.", dst + "downsample.0."),
        ]
    return rules


def _decoder_rules(model: Segmentor) -> list[RenameRule]:
    neck, head = model.decoder.neck, model.decoder.head
    top = neck.level_names[-1]
    rules = [RenameRule(rf"backbone\.fan_align{top[1:]}\.", "decoder.neck.top.")]
    rules += [RenameRule(rf"backbone\.fan_align{name[1:]}\.", f"decoder.neck.aligners.{name}.")
              for name in neck.aligners]
    rules += [RenameRule(rf"backbone\.fpn_output{name[1:]}\.", f"decoder.neck.outputs.{name}.")
              for name in neck.outputs]
    prefix = r"sem_seg_head\.(?:coarse_sem_seg_head\.)?"
    for name, stride in zip(head.level_names, head.strides, strict=True):
        step = 1 if stride == head.common_stride else 2  # detectron2 puts an nn.Upsample after each conv
        for k in range(len(head.scale_heads[name])):
            src, dst = rf"{prefix}{name}\.{k * step}\.", f"decoder.head.scale_heads.{name}.{k}."
            rules += [RenameRule(src + r"norm\.", dst + "norm."), RenameRule(src, dst + "conv.")]
    rules += [
        RenameRule(prefix + r"predictor\.", "decoder.head.predictor."),
        RenameRule(r"sem_seg_head\.point_head\.", None, _POINT_HEAD),
        RenameRule(r"pixel_(mean|std)$", None, _PIXEL_STATS),
    ]
    return rules


def fold_input_normalisation(state_dict: dict[str, Tensor], pixel_mean: Tensor, pixel_std: Tensor, *,
                             input_format: str = "BGR") -> None:
    """Rewrite ``backbone.conv1.weight`` (and ``backbone.bn1.running_mean``) for alignseg's inputs, in place.

    detectron2's first conv sees d[j] = (raw[j] − pixel_mean[j]) / pixel_std[j] with raw pixels 0..255 in
    ``input_format`` order; alignseg's sees x[c] = (rgb[c] / 255 − mean[c]) / std[c]. So d[j] = a·x[c] + b
    for the RGB channel c of j: the scale a goes into the weights; the offset b (zero for detectron2's
    defaults, whose mean is 255 × ImageNet's) goes into the BN mean, exact away from the image border.
    """
    if input_format not in ("BGR", "RGB"):
        raise ValueError(f"input_format must be 'BGR' or 'RGB', got {input_format!r}")
    weight = state_dict["backbone.conv1.weight"]
    order = [2, 1, 0] if input_format == "BGR" else [0, 1, 2]  # detectron2 channel of RGB channel c
    mean = torch.tensor(_ALIGNSEG_MEAN, dtype=torch.float64)
    std = torch.tensor(_ALIGNSEG_STD, dtype=torch.float64)
    pm = pixel_mean.reshape(-1).double()[order]
    ps = pixel_std.reshape(-1).double()[order]
    scale = 255.0 * std / ps
    offset = (255.0 * mean - pm) / ps
    rgb_weight = weight.double()[:, order]
    state_dict["backbone.conv1.weight"] = (rgb_weight * scale.view(1, 3, 1, 1)).to(weight.dtype)
    shift = (rgb_weight * offset.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    running_mean = state_dict["backbone.bn1.running_mean"]
    state_dict["backbone.bn1.running_mean"] = (running_mean.double() - shift).to(running_mean.dtype)


def convert_fapn(
    state_dict: dict[str, Tensor], model: Segmentor, *, backbone_name: str, decoder_kind: str,
    source: str = "checkpoint", input_format: str = "BGR", stride_in_1x1: bool = True,
) -> ConversionReport:
    """Map a released detectron2 FaPN state dict onto ``model`` (a ``fapn`` decoder on a ResNet) and load it.

    ``input_format`` and ``stride_in_1x1`` are the checkpoint's ``INPUT.FORMAT`` and
    ``MODEL.RESNETS.STRIDE_IN_1X1`` (detectron2's defaults, used by every released FaPN config): the model's
    trunk must have the same stride layout, or the converted weights would silently compute other features.
    Raises on any official key without a rule and on any model tensor left unfilled or of another shape.
    """
    if decoder_kind != "fapn":
        raise ValueError(f"FaPN checkpoints convert onto the 'fapn' decoder, not {decoder_kind!r}")
    backbone = model.backbone
    if not isinstance(backbone, ResNet) or backbone.stem != "standard" or backbone.dilated:
        raise ValueError(f"{source}: FaPN checkpoints need a standard-stem, undilated ResNet, not {backbone_name} "
                         f"as built")
    if backbone.depth >= 50 and backbone.stride_in_1x1 != stride_in_1x1:
        raise ValueError(f"{source}: the checkpoint's trunk has the stride in the "
                         f"{'first 1x1' if stride_in_1x1 else '3x3'} conv of each bottleneck, the model's in the "
                         f"{'first 1x1' if backbone.stride_in_1x1 else '3x3'}; build the model with "
                         f"stride_in_1x1={stride_in_1x1}")
    state_dict = strip_prefix(state_dict, "module.")
    report = ConversionReport()
    apply_rules(state_dict, _trunk_rules() + _decoder_rules(model), report, source)
    pixel_mean = state_dict.get("pixel_mean", torch.tensor(_DETECTRON2_PIXEL_MEAN))
    pixel_std = state_dict.get("pixel_std", torch.tensor(_DETECTRON2_PIXEL_STD))
    if "backbone.conv1.weight" in report.state_dict and "backbone.bn1.running_mean" in report.state_dict:
        fold_input_normalisation(report.state_dict, pixel_mean, pixel_std, input_format=input_format)
    load_strict(model, report.state_dict, source)
    return report
