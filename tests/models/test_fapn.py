"""FaPN: the detectron2 neck and SemanticFPN head, the real-time model and its Table I ladder, the converter.

Counts and MACs are the spec's (fapn_hfgd.md 1.3, 1.4, 1.6), written out literally; they run on the meta
device. The converter is checked on a synthetic checkpoint with detectron2's key names and shapes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import alignseg
from alignseg.deploy.complexity import count_macs, count_parameters
from alignseg.models.backbones import ResNet, build_backbone
from alignseg.models.convert import CONVERTERS
from alignseg.models.convert.checkpoint import convert_checkpoint
from alignseg.models.convert.fapn import convert_fapn, fold_input_normalisation
from alignseg.models.decoders import FaPNDecoder, FaPNNeck, FaPNRealtimeDecoder, SemanticFPNHead
from alignseg.models.ops.deform_conv import ModulatedDeformConv2d
from alignseg.models.segmentor import Segmentor
from alignseg.models.zoo import ZOO, get_entry

FAPN = sorted(name for name in ZOO if name.startswith("fapn"))
R50_CHANNELS = (256, 512, 1024, 2048)


def meta_model(name: str, **kwargs) -> torch.nn.Module:
    with torch.device("meta"):
        return alignseg.create_model(name, **kwargs)


def num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- parameters --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("fapn_r18", 12_634_691),  # spec 1.6: FaPN-R18, 19 classes
    ("fapn_r18_fpn", 11_366_291),  # spec 1.6: its FPN baseline
])
def test_realtime_parameters_exact(name, expected):
    assert count_parameters(meta_model(name)) == expected


@pytest.mark.parametrize(("name", "table_i"), [("fapn_r18_fam", 12.23), ("fapn_r18_fam_fsm", 12.57)])
def test_ladder_rows_match_spec_table_within_rounding(name, table_i):
    assert count_parameters(meta_model(name)) / 1e6 == pytest.approx(table_i, abs=0.005)


def test_every_fapn_entry_equals_its_reconstructed_count():
    for name in FAPN:
        entry = get_entry(name)
        assert entry.reconstructed is not None and entry.notes, name
        figures = entry.reconstructed
        assert count_parameters(meta_model(name, num_classes=figures.num_classes)) == figures.params, name


def test_r50_neck_parameters_and_breakdown():
    with torch.device("meta"):
        neck = FaPNNeck(R50_CHANNELS)
    assert num_params(neck) == 7_786_888  # spec 1.3
    fsm = [neck.aligners[p].lateral_conv for p in ("p2", "p3", "p4")]
    assert sum(num_params(f.conv_atten) for f in fsm) == 1_376_256
    assert sum(num_params(f.conv) for f in fsm) == 458_752
    assert sum(num_params(a) for a in neck.aligners.values()) - 1_376_256 - 458_752 == 3_657_096
    assert sum(num_params(c) for c in neck.outputs.values()) == 1_770_240
    assert num_params(neck.top) == 524_544
    assert list(neck.outputs) == ["p2", "p3", "p4"]  # no 3x3 output conv on P5


def test_semantic_fpn_head_parameters_and_blocks():
    with torch.device("meta"):
        head = SemanticFPNHead([256] * 4, 19)
    assert num_params(head) == 1_626_259  # spec 1.4: about 1.626M
    assert [len(blocks) for blocks in head.scale_heads.values()] == [1, 1, 2, 3]
    assert all(block.norm.num_groups == 32 and block.conv.bias is None
               for blocks in head.scale_heads.values() for block in blocks)


def test_fapn_r50_is_the_paper_count_less_the_point_head():
    point_head = (256 + 19) * 256 + 256 + 2 * (256 * 256 + 256) + 256 * 19 + 19
    assert count_parameters(meta_model("fapn_r50")) + point_head == 33_128_302  # Table 1: 33.1M


# --- MACs --------------------------------------------------------------------------------------------------

TABLE_I = {  # spec 1.6 reconstruction of Table I at 768x1536, deformable conv not counted (GMACs)
    "fapn_r18_fpn": 44.55, "fapn_r18_fam": 51.04, "fapn_r18_fam_fsm": 51.04, "fapn_r18": 51.79,
}


@pytest.mark.parametrize("name", sorted(TABLE_I))
def test_table_i_macs_without_and_with_the_deformable_conv(name):
    model = meta_model(name)
    without = count_macs(model, (768, 1536), exclude=(ModulatedDeformConv2d,)) / 1e9
    with_dcn = count_macs(model, (768, 1536)) / 1e9
    assert without == pytest.approx(TABLE_I[name], rel=5e-3)
    dcn = 0.0 if name == "fapn_r18_fpn" else 3.40  # spec 1.6: counting the DCN adds 3.40G
    assert with_dcn - without == pytest.approx(dcn, abs=0.01)
    figures = get_entry(name).reconstructed
    assert without == pytest.approx(figures.gmacs_paper_counter, rel=5e-3)
    assert with_dcn == pytest.approx(figures.gmacs, rel=5e-3)


def test_mac_exclusion_removes_only_the_deformable_conv_itself():
    """The DCN module owns the offset/mask conv; excluding the DCN type must keep that conv's MACs."""
    with torch.device("meta"):
        backbone = build_backbone("resnet18", stem="standard")
        model = Segmentor(backbone, FaPNRealtimeDecoder(backbone.channels, 19))
    h, w = 64, 96
    dcn = sum(128 * 128 * 9 * (h // s) * (w // s) for s in (16, 8))
    assert count_macs(model, (h, w)) - count_macs(model, (h, w), exclude=(ModulatedDeformConv2d,)) == dcn


# --- behaviour ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fapn_r18", "fapn_r18_fpn", "fapn_r18_fam_fsm", "fapn_r50"])
def test_eval_logits_at_input_size_for_odd_sizes(name):
    model = alignseg.create_model(name, num_classes=5).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 97, 131))
    assert out.shape == (1, 5, 97, 131)
    assert torch.isfinite(out).all()


def test_training_output_strides():
    x = torch.randn(1, 3, 64, 96)
    assert alignseg.create_model("fapn_r18", num_classes=3).train()(x)["out"].shape == (1, 3, 8, 12)
    backbone = build_backbone("resnet18", stem="standard")
    model = Segmentor(backbone, FaPNDecoder(backbone.channels, 3, channels=32, head_channels=32)).train()
    assert model(x)["out"].shape == (1, 3, 16, 24)  # the SemanticFPN head predicts at stride 4


def test_gradients_reach_the_offset_convs_once_nonzero():
    model = alignseg.create_model("fapn_r18", num_classes=4).train()
    aligners = [step.align for step in model.decoder.steps]
    for fam in aligners:
        torch.nn.init.normal_(fam.dcpack_L2.conv_offset_mask.weight, std=0.01)
    model(torch.randn(2, 3, 64, 96))["out"].square().mean().backward()
    for fam in aligners:
        for grad in (fam.offset.weight.grad, fam.dcpack_L2.conv_offset_mask.weight.grad,
                     fam.dcpack_L2.conv_offset_mask.bias.grad):
            assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_fpn_baseline_is_laterals_nearest_sums_and_the_head():
    decoder = FaPNRealtimeDecoder([64, 128, 256, 512], 7, fam=False, fsm=False, concat=False).eval()
    feats = [torch.randn(1, c, 48 // s, 80 // s) for c, s in zip((64, 128, 256, 512), (1, 2, 4, 8), strict=True)]
    p = F.conv2d(feats[3], decoder.top.conv.weight)
    for step, c in zip(decoder.steps, (feats[2], feats[1]), strict=True):
        lateral = F.conv2d(c, step.lateral.conv.weight)
        p = F.interpolate(p, size=lateral.shape[-2:], mode="nearest") + lateral
    with torch.no_grad():
        torch.testing.assert_close(decoder(feats).logits, decoder.classifier(decoder.head(p)))
    assert decoder.top.conv_atten is None and all(s.fuse is None and s.align is None for s in decoder.steps)


def test_full_model_concatenates_aligned_then_selected():
    decoder = FaPNRealtimeDecoder([64, 128, 256, 512], 3).eval()
    assert all(step.fuse.weight.shape == (128, 256, 1, 1) for step in decoder.steps)
    assert decoder.top.conv_atten is not None  # the top is an FSM
    step = decoder.steps[0]
    lateral, top = torch.randn(1, 256, 6, 10), torch.randn(1, 128, 3, 5)
    with torch.no_grad():
        aligned, selected, _, _ = step.align.branches(lateral, top)
        torch.testing.assert_close(step(lateral, top), step.fuse(torch.cat([aligned, selected], dim=1)))
    assert step.align.upsample_mode == "nearest"


def test_semantic_fpn_head_matches_scale_factor_upsampling_at_divisible_sizes():
    head = SemanticFPNHead([16] * 4, 5, channels=32, num_groups=8).eval()
    feats = [torch.randn(1, 16, 32 // 2**i, 64 // 2**i) for i in range(4)]
    out = 0
    for blocks, x, stride in zip(head.scale_heads.values(), feats, (4, 8, 16, 32), strict=True):
        for block in blocks:
            x = block(x)
            if stride != 4:  # detectron2: nn.Upsample(scale_factor=2, bilinear, align_corners=False)
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        out = out + x
    with torch.no_grad():
        torch.testing.assert_close(head(feats), head.predictor(out))


def test_neck_p5_is_the_top_conv_and_pyramid_is_fine_to_coarse():
    neck = FaPNNeck([8, 16, 32, 64], channels=16).eval()
    feats = [torch.randn(1, c, 64 // 2**i, 64 // 2**i) for i, c in enumerate((8, 16, 32, 64))]
    with torch.no_grad():
        pyramid = neck(feats)
        torch.testing.assert_close(pyramid[-1], neck.top(feats[-1]))
    assert [p.shape[-1] for p in pyramid] == [64, 32, 16, 8] and all(p.shape[1] == 16 for p in pyramid)
    assert neck.aligners["p2"].upsample_mode == "bilinear"
    assert "p5" in FaPNNeck([8, 16, 32, 64], channels=16, p5_output_conv=True).outputs


def test_stride_in_1x1_trunk_layout():
    trunk = build_backbone("resnet50", stem="standard", stride_in_1x1=True)
    block = trunk.layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    assert num_params(trunk) == num_params(build_backbone("resnet50", stem="standard"))
    assert [f.shape[-1] for f in trunk(torch.randn(1, 3, 64, 64))] == [16, 8, 4, 2]
    with pytest.raises(ValueError, match="bottleneck"):
        ResNet(depth=18, stride_in_1x1=True)


# --- converter ---------------------------------------------------------------------------------------------

def detectron2_fapn_r50_shapes(num_classes: int = 19, *, pointrend: bool = True,
                               neck_norm: str = "") -> dict[str, tuple[int, ...]]:
    """Key names and shapes of a released FaPN-R50 semantic checkpoint (detectron2 ResNet + FAN + head).

    ``neck_norm="GN"`` gives the keys detectron2 writes for ``cfg.MODEL.FPN.NORM = "GN"`` (no released
    checkpoint uses it): GroupNorm ``.norm.weight/.bias`` on the top, offset and output convs, whose biases go.
    """
    shapes: dict[str, tuple[int, ...]] = {}

    def neck_conv(prefix: str, shape: tuple[int, ...], *, bias: bool = True) -> None:
        shapes[prefix + ".weight"] = shape
        if bias and not neck_norm:
            shapes[prefix + ".bias"] = (shape[0],)
        if neck_norm:
            shapes[prefix + ".norm.weight"] = shapes[prefix + ".norm.bias"] = (shape[0],)

    def conv(prefix: str, shape: tuple[int, ...], *, norm: bool = True, bias: bool = False) -> None:
        shapes[prefix + ".weight"] = shape
        if bias:
            shapes[prefix + ".bias"] = (shape[0],)
        if norm:  # FrozenBatchNorm2d: four buffers, no step counter
            for name in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{prefix}.norm.{name}"] = (shape[0],)

    conv("backbone.bottom_up.stem.conv1", (64, 3, 7, 7))
    in_ch = 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512), strict=True), start=2):
        for b in range(blocks):
            prefix = f"backbone.bottom_up.res{stage}.{b}"
            conv(prefix + ".conv1", (width, in_ch, 1, 1))
            conv(prefix + ".conv2", (width, width, 3, 3))
            conv(prefix + ".conv3", (4 * width, width, 1, 1))
            if b == 0:
                conv(prefix + ".shortcut", (4 * width, in_ch, 1, 1))
            in_ch = 4 * width
    neck_conv("backbone.fan_align5", (256, 2048, 1, 1))
    for stage, c in zip((2, 3, 4), R50_CHANNELS, strict=False):
        prefix = f"backbone.fan_align{stage}"
        shapes[prefix + ".lateral_conv.conv_atten.weight"] = (c, c, 1, 1)
        shapes[prefix + ".lateral_conv.conv.weight"] = (256, c, 1, 1)
        neck_conv(prefix + ".offset", (256, 512, 1, 1), bias=False)
        shapes[prefix + ".dcpack_L2.weight"] = (256, 256, 3, 3)
        shapes[prefix + ".dcpack_L2.bias"] = (256,)
        conv(prefix + ".dcpack_L2.conv_offset_mask", (216, 256, 3, 3), norm=False, bias=True)
        neck_conv(f"backbone.fpn_output{stage}", (256, 256, 3, 3))
    head = "sem_seg_head.coarse_sem_seg_head" if pointrend else "sem_seg_head"
    for level, blocks in (("p2", 1), ("p3", 1), ("p4", 2), ("p5", 3)):
        step = 1 if level == "p2" else 2  # an nn.Upsample follows every conv above stride 4
        for k in range(blocks):
            prefix = f"{head}.{level}.{k * step}"
            shapes[prefix + ".weight"] = (128, 256 if k == 0 else 128, 3, 3)
            shapes[prefix + ".norm.weight"] = shapes[prefix + ".norm.bias"] = (128,)
    conv(f"{head}.predictor", (num_classes, 128, 1, 1), norm=False, bias=True)
    if pointrend:
        for k, fan_in in ((1, 256 + num_classes), (2, 256), (3, 256)):
            conv(f"sem_seg_head.point_head.fc{k}", (256, fan_in, 1), norm=False, bias=True)
        conv("sem_seg_head.point_head.predictor", (num_classes, 256, 1), norm=False, bias=True)
    shapes["pixel_mean"] = shapes["pixel_std"] = (3, 1, 1)
    return shapes


def released_state_dict(**kwargs) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    shapes = detectron2_fapn_r50_shapes(**kwargs)
    state = {k: torch.rand(shape, generator=generator) + 0.5 for k, shape in shapes.items()}
    state["pixel_mean"] = torch.tensor([103.530, 116.280, 123.675]).view(3, 1, 1)
    state["pixel_std"] = torch.ones(3, 1, 1)
    return state


def test_released_key_list_has_the_expected_size():
    assert len(detectron2_fapn_r50_shapes()) == 265 + 29 + 23 + 8 + 2  # trunk, FAN, coarse head, point head, stats
    assert sum(torch.Size(s).numel() for k, s in detectron2_fapn_r50_shapes().items()
               if k.startswith("backbone.f")) == 7_786_888


def test_convert_released_fapn_r50_maps_every_key_and_loads_strictly():
    assert CONVERTERS["fapn"] is convert_fapn and get_entry("fapn_r50").converter == "fapn"
    official = released_state_dict()
    model = alignseg.create_model("fapn_r50")
    report = convert_fapn(official, model, backbone_name="resnet50", decoder_kind="fapn", source="model_final.pth")
    assert len(report.state_dict) + len(report.dropped) == len(official)
    assert {k.split(".")[1] if k.startswith("sem_seg") else k for k in report.dropped} == {
        "point_head", "pixel_mean", "pixel_std"}
    state = model.state_dict()
    pairs = {
        "backbone.fan_align3.dcpack_L2.conv_offset_mask.weight":
            "decoder.neck.aligners.p3.dcpack_L2.conv_offset_mask.weight",
        "backbone.fan_align2.lateral_conv.conv_atten.weight": "decoder.neck.aligners.p2.lateral_conv.conv_atten.weight",
        "backbone.fan_align5.bias": "decoder.neck.top.bias",
        "backbone.fpn_output4.weight": "decoder.neck.outputs.p4.weight",
        "sem_seg_head.coarse_sem_seg_head.p5.4.weight": "decoder.head.scale_heads.p5.2.conv.weight",
        "sem_seg_head.coarse_sem_seg_head.p4.2.norm.bias": "decoder.head.scale_heads.p4.1.norm.bias",
        "sem_seg_head.coarse_sem_seg_head.predictor.weight": "decoder.head.predictor.weight",
        "backbone.bottom_up.res3.0.shortcut.norm.running_var": "backbone.layer2.0.downsample.1.running_var",
        "backbone.bottom_up.res5.2.conv3.weight": "backbone.layer4.2.conv3.weight",
    }
    for src, dst in pairs.items():
        assert torch.equal(state[dst], official[src]), (src, dst)
    # detectron2's mean is 255 x ImageNet's: folding moves the stem's BN mean by rounding noise only
    stem_mean = official["backbone.bottom_up.stem.conv1.norm.running_mean"]
    torch.testing.assert_close(state["backbone.bn1.running_mean"], stem_mean, rtol=0, atol=1e-3)
    # the stem sees alignseg inputs (RGB, ImageNet mean/std) as detectron2's saw BGR 0..255 minus the mean
    x = torch.randn(1, 3, 20, 24, dtype=torch.float64)
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    bgr = (255 * (x * std + mean)).flip(1) - official["pixel_mean"].double()
    expected = F.conv2d(bgr, official["backbone.bottom_up.stem.conv1.weight"].double(), stride=2, padding=3)
    got = F.conv2d(x, state["backbone.conv1.weight"].double(), stride=2, padding=3)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-3)


def test_fold_input_normalisation_with_an_offset_is_exact_inside():
    weight, running_mean = torch.randn(4, 3, 3, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    state = {"backbone.conv1.weight": weight.clone(), "backbone.bn1.running_mean": running_mean.clone()}
    pixel_mean, pixel_std = torch.tensor([120.0, 110.0, 100.0]), torch.tensor([58.0, 57.0, 57.5])
    fold_input_normalisation(state, pixel_mean, pixel_std, input_format="RGB")
    x = torch.randn(1, 3, 9, 9, dtype=torch.float64)
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    d2_input = (255 * (x * std + mean) - pixel_mean.double().view(1, 3, 1, 1)) / pixel_std.double().view(1, 3, 1, 1)
    expected = F.conv2d(d2_input, weight) - running_mean.view(1, -1, 1, 1)
    got = F.conv2d(x, state["backbone.conv1.weight"]) - state["backbone.bn1.running_mean"].view(1, -1, 1, 1)
    torch.testing.assert_close(got, expected)


def test_group_norm_neck_counts_and_converts_with_detectron2_keys():
    with torch.device("meta"):
        neck = FaPNNeck(R50_CHANNELS, norm="GN")
    # 7 convs lose their bias (top + 3 outputs: 4 x 256) and 7 GroupNorms (top, 3 offset, 3 output) come in
    assert num_params(neck) == 7_786_888 - 4 * 256 + 7 * 2 * 256
    assert sum(isinstance(m, torch.nn.GroupNorm) and m.num_groups == 32 for m in neck.modules()) == 7
    official = released_state_dict(neck_norm="GN")
    model = alignseg.create_model("fapn_r50", decoder_options={"norm": "GN"})
    report = convert_fapn(official, model, backbone_name="resnet50", decoder_kind="fapn", source="gn.pth")
    assert len(report.state_dict) + len(report.dropped) == len(official)
    state = model.state_dict()
    for src, dst in {"backbone.fan_align5.norm.weight": "decoder.neck.top.norm.weight",
                     "backbone.fan_align3.offset.norm.bias": "decoder.neck.aligners.p3.offset.norm.bias",
                     "backbone.fpn_output2.norm.weight": "decoder.neck.outputs.p2.norm.weight"}.items():
        assert torch.equal(state[dst], official[src]), (src, dst)


def test_group_norm_is_applied_after_the_conv():
    neck = FaPNNeck((32, 64), channels=64, norm="GN").eval()
    top = neck.top
    x = torch.randn(2, 64, 5, 7)
    torch.nn.init.normal_(top.norm.weight)
    expected = F.group_norm(F.conv2d(x, top.weight), 32, top.norm.weight, top.norm.bias)
    torch.testing.assert_close(top(x), expected)
    assert top.bias is None
    with pytest.raises(ValueError, match="norm must be '' \\(none\\) or 'GN'"):
        FaPNNeck((32, 64), channels=64, norm="BN")


def test_decoder_options_reach_the_decoder_and_unknown_ones_are_named():
    model = meta_model("fapn_r18", decoder_options={"deform": False, "upsample_mode": "bilinear"})
    step = model.decoder.steps[0]
    assert step.align.offset is None and step.align.upsample_mode == "bilinear"
    with pytest.raises(ValueError, match=r"fapn_r18: decoder FaPNRealtimeDecoder has no option 'norm'; it takes "
                                         r"channels, .*fuse_norm, deform"):
        meta_model("fapn_r18", decoder_options={"norm": "GN"})


def test_checkpoint_records_decoder_options_and_rebuilds_with_them(tmp_path):
    from alignseg.models.checkpoint import save_checkpoint
    from alignseg.models.factory import load_model

    model = alignseg.create_model("fapn_r50", num_classes=3, decoder_options={"norm": "GN"})
    path = save_checkpoint(tmp_path / "gn.safetensors", model, model="fapn_r50", class_names=["a", "b", "c"],
                           palette=[[0, 0, 0]] * 3, decoder_options={"norm": "GN"})
    loaded, record = load_model(path)
    assert record.decoder_options == {"norm": "GN"} and loaded.decoder.neck.top.norm is not None
    assert record.align_corners is False  # detectron2's resize convention travels with the weights
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_convert_checkpoint_file_and_create_model_from_it(tmp_path):
    path = tmp_path / "model_final.pth"
    torch.save({"model": released_state_dict(num_classes=7, pointrend=False), "iteration": 64999}, path)
    out = tmp_path / "fapn_r50.pt"
    report = convert_checkpoint("fapn", path, out, "fapn_r50")  # classes read from the predictor
    assert set(report.dropped) == {"pixel_mean", "pixel_std"}
    model = alignseg.create_model("fapn_r50", num_classes=7, pretrained=out).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7, 64, 64)


def test_converter_refuses_mismatches():
    official = released_state_dict()
    with torch.device("meta"):
        backbone = build_backbone("resnet50", stem="standard")  # torchvision layout: stride in the 3x3
        model = Segmentor(backbone, FaPNDecoder(backbone.channels, 19))
    with pytest.raises(ValueError, match="stride_in_1x1=True"):
        convert_fapn(official, model, backbone_name="resnet50", decoder_kind="fapn")
    with pytest.raises(ValueError, match="'fapn' decoder"):
        convert_fapn(official, meta_model("fapn_r18"), backbone_name="resnet18", decoder_kind="fapn_realtime")
    official["backbone.fpn_lateral5.weight"] = torch.zeros(1)
    with pytest.raises(KeyError, match="fpn_lateral5"):
        convert_fapn(official, meta_model("fapn_r50"), backbone_name="resnet50", decoder_kind="fapn")
