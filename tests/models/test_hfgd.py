"""HFGD (spec fapn_hfgd.md Part 2): gradient isolation, output sizes, MACs at 513x513, layer formulas, export."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

import alignseg
from alignseg.deploy.complexity import count_macs, count_parameters
from alignseg.losses import car_losses
from alignseg.models.decoders.hfgm import CAR_FEATURES, TEACHER, HFGMDecoder
from alignseg.models.ops.axial_attention import MultiHeadAxialAttention
from alignseg.models.ops.cae import ContextEncoder
from alignseg.models.ops.self_attention import SelfAttention
from alignseg.models.zoo import get_entry

HFGD_ENTRIES = ["semantic_fpn_r50", "hfgd_r50_os4", "hfgd_r50_os2", "fapn_r50_hfgm", "sfnet_r50_hfgm",
                "upernet_r50_hfgm", "deeplabv3plus_r50_hfgm", "hfgd_convnext_l_os4", "hfgd_convnext_l_os2",
                "semantic_fpn_r18", "hfgd_r18_os4"]
K = 5


class _TinyBackbone(nn.Module):
    """Four strided conv-BN-ReLU stages (strides 4..32, 8..32 channels): the gradient tests in a blink."""

    def __init__(self) -> None:
        super().__init__()
        self.channels = [8, 16, 24, 32]
        widths = [3, *self.channels]
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, stride=4 if i == 0 else 2, padding=1), nn.BatchNorm2d(b), nn.ReLU())
            for i, (a, b) in enumerate(itertools.pairwise(widths))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def _tiny(**options) -> tuple[nn.Module, HFGMDecoder]:
    backbone = _TinyBackbone()
    decoder = HFGMDecoder(backbone.channels, K, feature_channels=16,
                          decoder_options={"lateral_kernel": 3, "top": "none", "channels": 16}, **options)
    return backbone, decoder


def _reached(modules: dict[str, nn.Module], loss: torch.Tensor, model: nn.Module) -> dict[str, list[bool]]:
    """Per group, whether each parameter got a non-zero gradient from ``loss``."""
    model.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    return {group: [p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters()]
            for group, module in modules.items()}


def _losses(options: dict) -> tuple[dict[str, torch.Tensor], nn.Module, dict[str, nn.Module]]:
    backbone, decoder = _tiny(**options)
    model = nn.ModuleDict({"backbone": backbone, "decoder": decoder}).train()
    image = torch.randn(2, 3, 96, 64)
    labels = torch.randint(0, K, (2, 96, 64))
    out = decoder(backbone(image))
    weights = torch.randn_like(out.logits)
    losses = {"student": (out.logits * weights).sum()}
    if TEACHER in out.aux_logits:
        losses["teacher"] = (out.aux_logits[TEACHER] * torch.randn_like(out.aux_logits[TEACHER])).sum()
    losses["car"] = sum(car_losses(out.loss_inputs[CAR_FEATURES], labels, K).values())
    groups = {"backbone": backbone, "encoder": decoder.encoder, "tokens": decoder.classifier,
              "upsampler": decoder.decoder, "axial": decoder.axial}
    return losses, model, groups


def test_stop_gradients_isolate_the_student_from_the_teacher_exactly() -> None:
    losses, model, groups = _losses({})
    student = _reached(groups, losses["student"], model)
    assert all(student["upsampler"]) and all(student["axial"])
    assert not any(student["backbone"] + student["encoder"] + student["tokens"])
    for name in ("teacher", "car"):
        reached = _reached(groups, losses[name], model)
        assert not any(reached["upsampler"] + reached["axial"]), name
    teacher = _reached(groups, losses["teacher"], model)
    assert all(teacher["backbone"]) and all(teacher["encoder"]) and all(teacher["tokens"])
    car = _reached(groups, losses["car"], model)
    assert all(car["backbone"]) and not any(car["tokens"])
    assert any(car["encoder"])  # up to the CAR block's linear_conv, not its end_conv and the trailing conv


def test_without_stop_gradients_the_student_reaches_every_parameter() -> None:
    losses, model, groups = _losses({"sg_levels": (), "sg_tokens": False})
    student = _reached(groups, losses["student"], model)
    for group, reached in student.items():
        assert all(reached), group


def test_single_stop_gradient_flags_cut_single_paths() -> None:
    losses, model, groups = _losses({"sg_levels": (5,), "sg_tokens": True})  # only f_h and the tokens
    backbone = groups.pop("backbone")
    groups["stem_to_c4"], groups["c5"] = backbone.stages[:3], backbone.stages[3]
    student = _reached(groups, losses["student"], model)
    assert all(student["stem_to_c4"]) and not any(student["c5"] + student["encoder"] + student["tokens"])
    losses, model, groups = _losses({"sg_tokens": False})
    student = _reached(groups, losses["student"], model)
    assert all(student["tokens"]) and not any(student["backbone"] + student["encoder"])


def test_without_guidance_there_is_no_teacher_and_no_stop_gradient() -> None:
    losses, model, groups = _losses({"guidance": False, "axial_attention": False})
    assert "teacher" not in losses and groups["axial"] is None
    groups.pop("axial")
    student = _reached(groups, losses["student"], model)
    for group, reached in student.items():
        assert all(reached), group


@pytest.fixture(scope="module")
def r18_models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    os2 = {"decoder_options": {"output_stride": 2}}
    return {"os4": alignseg.create_model("hfgd_r18_os4", num_classes=K).eval(),
            "os2": alignseg.create_model("hfgd_r18_os4", num_classes=K, decoder_options=os2).eval(),
            "sfpn": alignseg.create_model("semantic_fpn_r18", num_classes=K).eval()}


@pytest.mark.parametrize("size", [(64, 96), (70, 101), (33, 47)])
def test_eval_logits_at_input_size_and_os2_doubles_os4(size, r18_models) -> None:
    image = torch.randn(1, 3, *size)
    os4, os2 = r18_models["os4"], r18_models["os2"]
    with torch.no_grad():
        for model in r18_models.values():
            assert model(image).shape == (1, K, *size)
        feats = os4.backbone(image)
        s4 = os4.decoder(feats).logits.shape[-2:]
        s2 = os2.decoder(feats).logits.shape[-2:]
    assert tuple(s4) == tuple(feats[0].shape[-2:])
    assert tuple(s2) == (2 * s4[0] - 1, 2 * s4[1] - 1)  # align-corners doubling: 129 -> 257 at 513


# Spec 2.6, written out literally (GMACs at 513x513, Pascal Context's 59 classes, keras-layout R50).
SPEC_GMACS = {"semantic_fpn_r50": 46.10, "hfgd_r50_os4": 66.3, "hfgd_r50_os2": 134.5}


@pytest.mark.parametrize("name", sorted(SPEC_GMACS))
def test_macs_at_513_within_one_percent_of_the_spec(name) -> None:
    with torch.device("meta"):
        model = alignseg.create_model(name, num_classes=59)
    gmacs = count_macs(model, (513, 513)) / 1e9
    assert gmacs == pytest.approx(SPEC_GMACS[name], rel=0.01)
    assert count_macs(model.backbone, (513, 513)) / 1e9 == pytest.approx(21.31, abs=0.005)  # spec 2.6


@pytest.mark.parametrize("name", HFGD_ENTRIES)
def test_entries_hold_their_reconstructed_figures_and_paper_tables(name) -> None:
    entry = get_entry(name)
    figures = entry.reconstructed
    with torch.device("meta"):
        model = alignseg.create_model(name, num_classes=figures.num_classes)
    assert count_parameters(model) == figures.params
    assert count_macs(model, figures.macs_input) / 1e9 == pytest.approx(figures.gmacs, abs=0.005)
    assert entry.notes
    assert all(fig.source.startswith("HFGD Table") for fig in entry.paper)
    if name in SPEC_GMACS or name.startswith(("hfgd_convnext", "fapn", "upernet", "deeplab")):
        assert entry.paper


def test_wrapped_decoder_has_no_classifier_of_its_own() -> None:
    _, decoder = _tiny()
    assert not list(decoder.decoder.classifier.parameters())
    assert decoder.classifier.weight.shape == (K, 16, 1, 1) and decoder.classifier.bias is not None


def test_cae_parameters_by_hand() -> None:
    cae = ContextEncoder(2048, 256)
    bn = 2
    expected = (2048 * 2048 + bn * 2048) + (2048 * 512 + bn * 512)  # wide + reduce (no conv bias)
    expected += 2 * (512 * 64 + 64) + 512 * 512 + 512  # q, k, v with bias
    expected += 512 * 512 + 512 + 512 * 512 + bn * 512  # linear_conv (bias) + end_conv
    expected += 512 * 256 + bn * 256  # trailing 1x1
    assert count_parameters(cae) == expected
    torch.testing.assert_close(cae.attention.query.weight, cae.attention.key.weight)  # shared initial value


def test_self_attention_is_unscaled_softmax_attention_with_residual() -> None:
    layer = SelfAttention(6, 3)
    x = torch.randn(1, 6, 2, 3)
    tokens = x.flatten(2)[0].t()  # HW x C
    q = tokens @ layer.query.weight[:, :, 0, 0].t() + layer.query.bias
    k = tokens @ layer.key.weight[:, :, 0, 0].t() + layer.key.bias
    v = tokens @ layer.value.weight[:, :, 0, 0].t() + layer.value.bias
    expected = tokens + torch.softmax(q @ k.t(), dim=-1) @ v
    torch.testing.assert_close(layer(x)[0].flatten(1).t(), expected)


def test_axial_attention_equals_the_per_pixel_formula_in_iseg_channel_order() -> None:
    heads, channels, h, w = 2, 6, 3, 4
    layer = MultiHeadAxialAttention(channels, heads)
    nn.init.normal_(layer.key.weight)  # q and k start equal; make them differ
    x = torch.randn(1, channels, h, w)
    conv = {name: getattr(layer, name) for name in ("query", "key", "value")}
    q, k, v = (conv[n](x)[0] for n in ("query", "key", "value"))
    d = channels // heads
    out = torch.empty(channels, h, w)
    for g in range(heads):
        sl = slice(g * d, (g + 1) * d)
        qg, kg, vg = q[sl], k[sl], v[sl]
        # column attention: pixel (i, j) attends over (i', j); then row attention over (i, j')
        col = torch.empty(d, h, w)
        for i in range(h):
            for j in range(w):
                a = torch.softmax(torch.stack([qg[:, i, j] @ kg[:, t, j] for t in range(h)]) / math.sqrt(d), 0)
                col[:, i, j] = sum(a[t] * vg[:, t, j] for t in range(h))
        for i in range(h):
            for j in range(w):
                a = torch.softmax(torch.stack([qg[:, i, j] @ kg[:, i, t] for t in range(w)]) / math.sqrt(d), 0)
                value = sum(a[t] * col[:, i, t] for t in range(w))
                out[[c * heads + g for c in range(d)], i, j] = value  # interleaved: channel c·heads + g
    torch.testing.assert_close(layer(x)[0], out)


def test_axial_attention_clip_option() -> None:
    layer = MultiHeadAxialAttention(4, 2, clip=True)
    assert torch.isfinite(layer(torch.randn(1, 4, 3, 3) * 100)).all()


def _wrapped_r18(decoder: str, options: dict) -> nn.Module:
    """HFGM around another decoder on ResNet-18 (the R50 zoo entries' wiring at test size)."""
    from alignseg.models.backbones import build_backbone
    from alignseg.models.segmentor import Segmentor

    backbone = build_backbone("resnet18", stem="standard")
    return Segmentor(backbone, HFGMDecoder(backbone.channels, K, decoder=decoder, decoder_options=options,
                                           encoder="fcn"))


WRAPPED = {"fapn": {"head_channels": 256}, "aligned_fpn": {"channels": 256}, "upernet": {"channels": 256},
           "deeplabv3plus": {"channels": 256}}


@pytest.mark.parametrize("decoder", sorted(WRAPPED))
def test_hfgm_wraps_fapn_and_sfnet_decoders(decoder) -> None:
    model = _wrapped_r18(decoder, WRAPPED[decoder])
    assert not list(model.decoder.decoder.classifier.parameters())
    model.train()
    out = model(torch.randn(2, 3, 64, 96))
    assert set(out["aux"]) == {TEACHER} and out["loss_inputs"] == {}
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 70, 101)).shape == (1, K, 70, 101)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hfgd_r18_os4", "semantic_fpn_r18", "fapn_hfgm"])
def test_export_parity_at_two_other_sizes(name, tmp_path) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is in the [deploy] extra")
    from alignseg.deploy.export import export_model

    if name == "fapn_hfgm":
        model = _wrapped_r18("fapn", WRAPPED["fapn"])
    else:
        options = {"decoder_options": {"output_stride": 2}} if name.startswith("hfgd") else None
        model = alignseg.create_model(name, num_classes=K, decoder_options=options)
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    report = export_model(model, tmp_path / f"{name}.onnx", size=(64, 96))
    assert len(report.checks) == 2 and all(check.passed for check in report.checks)


@pytest.mark.parametrize(("encoder", "has_car"), [("cae", True), ("sa_car", True), ("fcn", False)])
def test_encoder_variants_of_tables_4_and_3(encoder, has_car) -> None:
    backbone, decoder = _tiny(encoder=encoder, trailing_kernel=3)
    out = decoder(backbone(torch.randn(1, 3, 64, 96)))
    assert (CAR_FEATURES in out.loss_inputs) == has_car
    assert out.aux_logits[TEACHER].shape == (1, K, 2, 3) and out.logits.shape == (1, K, 16, 24)
    if has_car:
        assert out.loss_inputs[CAR_FEATURES].shape == (1, 512, 2, 3)


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="sg_levels"):
        _tiny(sg_levels=(1,))
    with pytest.raises(ValueError, match="unknown decoder"):
        _tiny(decoder="nope")
    with pytest.raises(ValueError, match="encoder"):
        _tiny(encoder="aspp")


@pytest.mark.parametrize("name", ["hfgd_r18_os4", "semantic_fpn_r18"])
def test_training_through_the_criterion_reaches_every_parameter(name) -> None:
    from alignseg.losses import build_criterion

    model = alignseg.create_model(name, num_classes=K).train()
    out = model(torch.randn(2, 3, 64, 96))
    labels = torch.randint(0, K, (2, 64, 96))
    labels[:, :8] = 255
    criterion = build_criterion(get_entry(name).loss_defaults, num_classes=K, align_corners=model.align_corners)
    total, parts = criterion(out, labels)
    expected = {"main", "teacher", "car_intra", "car_c2c", "car_c2p"} if name.startswith("hfgd") else {"main"}
    assert set(parts) == expected
    total.backward()
    unreached = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert unreached == []
