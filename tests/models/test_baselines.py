"""The HFGD Table 8 baselines: UperNet and DeepLabV3+ on ResNet-50 (hand-counted heads, strides, export)."""

from __future__ import annotations

import pytest
import torch

import alignseg
from alignseg.deploy.complexity import count_macs, count_parameters
from alignseg.models.backbones import build_backbone
from alignseg.models.decoders import DeepLabV3PlusDecoder, UperNetDecoder
from alignseg.models.zoo import get_entry

R50 = 23_508_032  # torchvision ResNet-50 without fc (tests/models/test_backbones.py)
NAMES = ["upernet_r50", "deeplabv3plus_r50"]


def conv_bn(cin: int, cout: int, k: int, groups: int = 1) -> int:
    """Parameters of a bias-free k×k conv + BatchNorm (weight, bias)."""
    return cin // groups * cout * k * k + 2 * cout


def upernet_head(c: int, ins: tuple[int, ...], bins: int = 4) -> int:
    ppm = bins * conv_bn(ins[-1], c, 1) + conv_bn(ins[-1] + bins * c, c, 3)
    fpn = sum(conv_bn(i, c, 1) + conv_bn(c, c, 3) for i in ins[:-1])
    return ppm + fpn + conv_bn(len(ins) * c, c, 3)


def deeplabv3plus_head(c: int, fine: int, top: int, low: int = 48) -> int:
    def separable(cin: int, cout: int) -> int:
        return conv_bn(cin, cin, 3, groups=cin) + conv_bn(cin, cout, 1)

    aspp = conv_bn(top, c, 1) + conv_bn(top, c, 1) + 3 * separable(top, c) + conv_bn(5 * c, c, 3)
    return aspp + conv_bn(fine, low, 1) + separable(c + low, c) + separable(c, c)


def test_heads_have_the_hand_counted_parameters():
    ins = (256, 512, 1024, 2048)
    assert upernet_head(512, ins) == 40_513_536
    assert deeplabv3plus_head(512, 256, 2048) == 17_688_176
    with torch.device("meta"):
        upernet = UperNetDecoder(ins, 19)
        deeplab = DeepLabV3PlusDecoder(ins, 19)
        small = UperNetDecoder((8, 16, 24), 3, channels=16)
    classifier = 512 * 19 + 19
    assert count_parameters(upernet) == 40_513_536 + classifier
    assert count_parameters(deeplab) == 17_688_176 + classifier
    assert count_parameters(small) == upernet_head(16, (8, 16, 24)) + 16 * 3 + 3


@pytest.mark.parametrize("name", NAMES)
def test_zoo_entries_hold_exact_figures_and_the_hfgd_table_8_row(name):
    entry = get_entry(name)
    with torch.device("meta"):
        model = alignseg.create_model(name)
    assert count_parameters(model) == entry.reconstructed.params == R50 + {
        "upernet_r50": 40_513_536, "deeplabv3plus_r50": 17_688_176}[name] + 512 * 19 + 19
    assert count_macs(model, (513, 513)) / 1e9 == pytest.approx(entry.reconstructed.gmacs, abs=0.01)
    assert entry.reconstructed.macs_input == (513, 513)
    (figure,) = entry.paper
    assert figure.source.startswith("HFGD Table 8") and figure.miou == {"upernet_r50": 48.25,
                                                                         "deeplabv3plus_r50": 48.11}[name]
    assert not entry.output_align_corners  # mmseg's resize convention


def test_resnet_output_stride_16_and_8_dilate_the_last_stages():
    plain = build_backbone("resnet50", stem="standard")
    os16 = build_backbone("resnet50", stem="standard", output_stride=16)
    os8 = build_backbone("resnet50", stem="standard", output_stride=8)
    assert os16.strides == [4, 8, 16, 16] and os8.strides == [4, 8, 8, 8]
    assert sum(p.numel() for p in os16.parameters()) == sum(p.numel() for p in plain.parameters())
    # the first block of a dilated stage keeps the previous dilation (torchvision / mmseg contract_dilation)
    assert [(b.conv2.stride, b.conv2.dilation) for b in os16.layer4] == [((1, 1), (1, 1)), ((1, 1), (2, 2)),
                                                                         ((1, 1), (2, 2))]
    assert os16.layer4[0].downsample[0].stride == (1, 1)
    assert [b.conv2.dilation for b in os8.layer3] == [(1, 1)] + [(2, 2)] * 5
    assert [b.conv2.dilation for b in os8.layer4] == [(2, 2), (4, 4), (4, 4)]
    with torch.no_grad():
        feats = os16.eval()(torch.randn(1, 3, 65, 97))
    assert [tuple(f.shape[-2:]) for f in feats] == [(17, 25), (9, 13), (5, 7), (5, 7)]
    with pytest.raises(ValueError, match="output_stride must be 8, 16 or 32"):
        build_backbone("resnet50", output_stride=4)
    with pytest.raises(ValueError, match="exclude each other"):
        build_backbone("resnet50", dilated=True, output_stride=16)


def small_model(decoder_cls, **backbone_kwargs):
    from alignseg.models.segmentor import Segmentor

    backbone = build_backbone("resnet18", stem="standard", **backbone_kwargs)
    return Segmentor(backbone, decoder_cls(backbone.channels, 5, channels=32), align_corners=False)


@pytest.mark.parametrize(("decoder_cls", "backbone_kwargs"), [(UperNetDecoder, {}),
                                                              (DeepLabV3PlusDecoder, {"output_stride": 16})])
@pytest.mark.parametrize("size", [(64, 96), (70, 101), (33, 47)])
def test_logits_at_input_size_and_decoder_output_at_stride_4(decoder_cls, backbone_kwargs, size):
    model = small_model(decoder_cls, **backbone_kwargs).eval()
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        assert model(x).shape == (1, 5, *size)
        feats = model.backbone(x)
        out = model.decoder(feats)
        split = model.decoder.forward_features(feats)
    assert out.logits.shape[-2:] == feats[0].shape[-2:]  # the stride-4 level
    assert split.features.shape[1] == model.decoder.feature_channels == 32
    # the features are the map before dropout and the 1×1 classifier: a wrapper can swap the classifier
    assert torch.equal(model.decoder.classifier(split.features), out.logits)
    assert model.decoder.classifier.kernel_size == (1, 1)


@pytest.mark.parametrize("decoder_cls", [UperNetDecoder, DeepLabV3PlusDecoder])
def test_training_output_and_the_loss_reach_every_parameter(decoder_cls):
    from alignseg.losses import build_criterion

    model = small_model(decoder_cls, output_stride=16).train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out["out"].shape == (2, 5, 16, 16) and out["aux"] == {} and out["loss_inputs"] == {}
    labels = torch.randint(0, 5, (2, 64, 64))
    labels[:, :8] = 255
    loss, _ = build_criterion(None, num_classes=5, align_corners=model.align_corners)(out, labels)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_models_command_lists_the_baselines():
    from alignseg.commands.models import models_table

    table = models_table("*_r50")
    for name, params in (("upernet_r50", "64,031,315"), ("deeplabv3plus_r50", "41,205,955")):
        (line,) = [row for row in table.splitlines() if row.startswith(name + " ")]
        assert params in line


# ConvNeXt paper (Liu et al., CVPR 2022) Table 3, ADE20K UperNet: params (M, with mmseg's auxiliary FCN head
# on stage 3, 150 classes) and FLOPs (G = MACs, at 512x2048; 640x2560 for the ImageNet-22k B and L rows).
CONVNEXT_UPERNET = {("tiny", (512, 2048)): (60, 939), ("small", (512, 2048)): (82, 1027),
                    ("base", (512, 2048)): (122, 1170), ("base", (640, 2560)): (122, 1828),
                    ("large", (640, 2560)): (235, 2458)}


@pytest.mark.parametrize(("arch", "size"), list(CONVNEXT_UPERNET))
def test_upernet_on_convnext_matches_the_convnext_paper(arch, size):
    from alignseg.models.segmentor import Segmentor

    params_m, gflops = CONVNEXT_UPERNET[(arch, size)]
    with torch.device("meta"):
        backbone = build_backbone(f"convnext_{arch}")
        model = Segmentor(backbone, UperNetDecoder(backbone.channels, 150), align_corners=False)
    aux_head = conv_bn(backbone.channels[2], 256, 3) + 256 * 150 + 150  # train-only: params, not FLOPs
    assert (count_parameters(model) + aux_head) / 1e6 == pytest.approx(params_m, abs=0.5)
    assert count_macs(model, size) / 1e9 == pytest.approx(gflops, rel=1e-3)
