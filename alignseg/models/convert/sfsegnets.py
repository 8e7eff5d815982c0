"""Released SFNet / SFNet-Lite checkpoints (lxtGH/SFSegNets) → alignseg zoo models.

The official key scheme is described in golden/sfnet/README.md section 8: ResNet trunks use
``layer0..layer4`` at the top level, STDC and DFNet trunks ``backbone.*`` (STDC with aliases and an
unused ImageNet classifier), decoders ``head.*``. Concatenation orders are the same on both sides, so
only names change; every official tensor is either mapped or reported as dropped with its reason.
"""

from __future__ import annotations

from torch import Tensor

from ..segmentor import Segmentor
from ..weights import load_strict, strip_prefix
from .report import ConversionReport, RenameRule, apply_rules

_PPM_RULES = [
    RenameRule(r"head\.ppm\.stages\.(\d+)\.1\.", r"decoder.ppm.branches.\1.conv."),
    RenameRule(r"head\.ppm\.stages\.(\d+)\.2\.", r"decoder.ppm.branches.\1.bn."),
    RenameRule(r"head\.ppm\.bottleneck\.0\.", "decoder.ppm.bottleneck.conv."),
    RenameRule(r"head\.ppm\.bottleneck\.1\.", "decoder.ppm.bottleneck.bn."),
]
_FUSE_RULES = [
    RenameRule(r"head\.conv_last\.0\.0\.", "decoder.fuse.conv."),
    RenameRule(r"head\.conv_last\.0\.1\.", "decoder.fuse.bn."),
    RenameRule(r"head\.conv_last\.1\.", "decoder.classifier."),
]
_ALIGNED_FPN_RULES = [
    *_PPM_RULES,
    RenameRule(r"head\.fpn_in\.(\d+)\.0\.", r"decoder.laterals.\1.conv."),
    RenameRule(r"head\.fpn_in\.(\d+)\.1\.", r"decoder.laterals.\1.bn."),
    RenameRule(r"head\.fpn_out\.(\d+)\.0\.0\.", r"decoder.outputs.\1.conv."),
    RenameRule(r"head\.fpn_out\.(\d+)\.0\.1\.", r"decoder.outputs.\1.bn."),
    RenameRule(r"head\.fpn_out_align\.(\d+)\.down_h\.", r"decoder.aligners.\1.project_high."),
    RenameRule(r"head\.fpn_out_align\.(\d+)\.down_l\.", r"decoder.aligners.\1.project_low."),
    RenameRule(r"head\.fpn_out_align\.(\d+)\.flow_make\.", r"decoder.aligners.\1.flow_conv."),
    *_FUSE_RULES,
]
_DSN_TO_AUX = [
    RenameRule(r"head\.dsn\.(\d+)\.0\.", r"aux_heads.\1.block.conv."),
    RenameRule(r"head\.dsn\.(\d+)\.1\.", r"aux_heads.\1.block.bn."),
    RenameRule(r"head\.dsn\.(\d+)\.4\.", r"aux_heads.\1.classifier."),
]
_DSN_DROPPED = [
    RenameRule(r"head\.dsn\.", None, "train-only deep-supervision head; the model was built without aux heads"),
]
_LITE_RULES = [
    *_PPM_RULES,
    RenameRule(r"head\.fpn_in\.0\.0\.", "decoder.lateral_low.conv."),
    RenameRule(r"head\.fpn_in\.0\.1\.", "decoder.lateral_low.bn."),
    RenameRule(r"head\.fpn_in\.1\.0\.", "decoder.lateral_mid.conv."),
    RenameRule(r"head\.fpn_in\.1\.1\.", "decoder.lateral_mid.bn."),
    RenameRule(r"head\.fpn_in\.2\.", None, "lateral built by the released Lite head but never used (spec 3.4)"),
    RenameRule(r"head\.flow_align_module\.down_h\.", "decoder.align.project_high."),
    RenameRule(r"head\.flow_align_module\.down_l\.", "decoder.align.project_low."),
    RenameRule(r"head\.flow_align_module\.flow_make\.", "decoder.align.flow_conv."),
    RenameRule(r"head\.flow_align_module\.flow_gate\.0\.", "decoder.align.gate_conv."),
    RenameRule(r"head\.dsn\.", None, "DSN head built by the released Lite head but never called (spec 3.4)"),
    *_FUSE_RULES,
]
_RESNET_PREFIXES = ("layer0.", "layer1.", "layer2.", "layer3.", "layer4.")


def _split_backbone(state_dict: dict[str, Tensor], backbone_name: str) -> tuple[dict, dict, str]:
    """Separate the trunk's tensors (relative to the trunk) from the rest; also return the trunk prefix."""
    prefix = "" if backbone_name.startswith("resnet") else "backbone."
    starts = (prefix,) if prefix else _RESNET_PREFIXES
    trunk = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(starts)}
    rest = {k: v for k, v in state_dict.items() if not k.startswith(starts)}
    return trunk, rest, prefix


def rename_head(
    state_dict: dict[str, Tensor], decoder_kind: str, *, with_aux_heads: bool, source: str = "checkpoint"
) -> ConversionReport:
    """Rename official ``head.*`` keys to alignseg ``decoder.*``/``aux_heads.*`` keys, without loading."""
    if decoder_kind == "aligned_fpn":
        rules = _ALIGNED_FPN_RULES + (_DSN_TO_AUX if with_aux_heads else _DSN_DROPPED)
    elif decoder_kind == "lite":
        rules = _LITE_RULES
    else:
        raise ValueError(f"no SFSegNets conversion for decoder {decoder_kind!r}")
    report = ConversionReport()
    apply_rules(state_dict, rules, report, source)
    return report


def convert_sfsegnets(
    state_dict: dict[str, Tensor], model: Segmentor, *, backbone_name: str, decoder_kind: str,
    source: str = "checkpoint",
) -> ConversionReport:
    """Map an official SFNet state dict onto ``model`` and load it.

    Raises on any official key without a rule and on any model tensor left unfilled or of another shape;
    the returned report lists the official tensors dropped as unused and why.
    """
    trunk, rest, prefix = _split_backbone(strip_prefix(state_dict, "module."), backbone_name)
    report = rename_head(rest, decoder_kind, with_aux_heads=len(model.aux_heads) > 0, source=source)
    renamed, dropped = type(model.backbone).remap_pretrained(trunk)
    report.state_dict.update({f"backbone.{k}": v for k, v in renamed.items()})
    reason = "backbone tensor unused by the segmentation model (ImageNet classifier leftover or alias)"
    report.dropped.update({prefix + k: reason for k in dropped})
    load_strict(model, report.state_dict, source)
    return report
