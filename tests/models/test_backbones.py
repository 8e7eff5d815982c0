"""Backbones: feature contract, exact parameter counts, official/torchvision key layouts, weight loading."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pytest
import torch
from conftest import shared_path  # tests/ has no __init__.py: pytest puts it on sys.path
from torch import nn

from alignseg.models.backbones import BACKBONES, UnknownBackboneError, build_backbone
from alignseg.models.backbones.dfnet import DFNet1, DFNet2
from alignseg.models.backbones.resnet import ResNet
from alignseg.models.backbones.stdc import STDCNet
from alignseg.models.weights import WeightsError, load_strict

# sum(p.numel() for p in parameters()): official counts minus the unused parts (fc, STDC ImageNet head).
PARAMS = {
    ("resnet18", "deep"): 11_324_992,  # resnet18_deep_keys.txt 11,837,992 - fc 513,000; spec 2.1: 11.325M
    ("resnet34", "deep"): 21_433_152,
    ("resnet50", "deep"): 23_631_808,  # spec 2.1: 23.632M
    ("resnet101", "deep"): 42_623_936,  # spec 2.1: 42.624M
    ("resnet18", "standard"): 11_176_512,  # torchvision 11,689,512 - fc 513,000
    ("resnet34", "standard"): 21_284_672,  # torchvision 21,797,672 - fc 513,000
    ("resnet50", "standard"): 23_508_032,  # torchvision 25,557,032 - fc 2,049,000
    ("resnet101", "standard"): 42_500_160,  # torchvision 44,549,160 - fc 2,049,000
    ("stdc1", None): 5_318_304,  # stdc1_backbone_keys.txt 8,443,552 - leftovers 3,125,248
    ("stdc2", None): 9_348_768,  # spec 2.1: 12.474M - 3.125M
    ("df1", None): 8_020_128,  # spec 2.1: 8.020M
    ("df2", None): 17_474_208,  # spec 2.1: 17.474M
}
CASES = list(PARAMS)
FEATURES = {
    "resnet18": [(64, 4), (128, 8), (256, 16), (512, 32)],
    "resnet34": [(64, 4), (128, 8), (256, 16), (512, 32)],
    "resnet50": [(256, 4), (512, 8), (1024, 16), (2048, 32)],
    "resnet101": [(256, 4), (512, 8), (1024, 16), (2048, 32)],
    "stdc1": [(64, 4), (256, 8), (512, 16), (1024, 32)],
    "stdc2": [(64, 4), (256, 8), (512, 16), (1024, 32)],
    "df1": [(128, 16), (256, 32), (512, 32)],
    "df2": [(128, 8), (256, 16), (512, 32)],
}
_STDC_LEFTOVERS = ("conv_last.", "fc.", "bn.", "linear.")
_STDC_ALIAS = re.compile(r"^x(2|4|8|16|32)\.")


def _build(name: str, stem: str | None, **kwargs) -> nn.Module:
    return build_backbone(name, **({"stem": stem} if stem else {}), **kwargs)


def _case_id(case: tuple[str, str | None]) -> str:
    return "-".join(p for p in case if p)


def read_keys(name: str, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Official key list ``golden/sfnet/<name>`` as {key: shape}, keys under ``prefix`` with it stripped."""
    out = {}
    for line in shared_path("golden", "sfnet", name).read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split()
            if key.startswith(prefix):
                out[key[len(prefix):]] = tuple(int(s) for s in shape.strip("()").split(",") if s)
    return out


def zeros_state_dict(keys: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """A fake checkpoint with exactly the official names and shapes."""
    return {
        k: torch.zeros(s, dtype=torch.long if k.endswith("num_batches_tracked") else torch.float32)
        for k, s in keys.items()
    }


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_feature_shapes_match_feature_info(case):
    name, stem = case
    model = _build(name, stem).eval()
    assert [(f.channels, f.stride) for f in model.feature_info] == FEATURES[name]
    assert model.channels == [c for c, _ in FEATURES[name]]
    with torch.no_grad():
        for h, w in ((64, 96), (70, 100)):
            feats = model(torch.randn(1, 3, h, w))
            # every stride-2 op here (3×3 p1, 1×1 p0, 7×7 p3, pools 3×3 p1) maps n to ceil(n / 2)
            assert [tuple(f.shape) for f in feats] == [
                (1, info.channels, math.ceil(h / info.stride), math.ceil(w / info.stride))
                for info in model.feature_info
            ]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_parameter_count(case):
    assert _n_params(_build(*case)) == PARAMS[case]


@pytest.mark.parametrize(
    ("key_file", "prefix", "count"),
    [
        ("resnet18_deep_keys.txt", "", PARAMS[("resnet18", "deep")]),
        ("sfnet_r18_keys.txt", "layer", PARAMS[("resnet18", "deep")]),
        ("stdc1_backbone_keys.txt", "", PARAMS[("stdc1", None)]),
        ("sfnet_stdc1_keys.txt", "backbone.", PARAMS[("stdc1", None)]),
        ("sfnet_stdc2_keys.txt", "backbone.", PARAMS[("stdc2", None)]),
        ("sfnet_df1_keys.txt", "backbone.", PARAMS[("df1", None)]),
        ("sfnet_df2_keys.txt", "backbone.", PARAMS[("df2", None)]),
    ],
)
def test_hard_coded_counts_come_from_the_key_files(key_file, prefix, count):
    keys = read_keys(key_file, prefix)
    used = sum(
        math.prod(shape) for k, shape in keys.items()
        if not re.search(r"\.(running_mean|running_var|num_batches_tracked)$", k)
        and not k.startswith(("fc.", *_STDC_LEFTOVERS)) and not _STDC_ALIAS.match(k)
    )
    assert used == count


def _expected_stdc_drops(keys) -> list[str]:
    return [k for k in keys if _STDC_ALIAS.match(k) or k.startswith(_STDC_LEFTOVERS)]


@pytest.mark.parametrize(
    ("key_file", "prefix", "name"),
    [
        ("resnet18_deep_keys.txt", "", "resnet18"),  # ImageNet resnet18-deep-inplane128.pth
        ("sfnet_r18_keys.txt", "", "resnet18"),  # SFNet-R18 model: layer0..4 (+ head, filtered below)
        ("sfnet_lite_r18_keys.txt", "", "resnet18"),
        ("stdc1_backbone_keys.txt", "", "stdc1"),  # ImageNet STDC1
        ("sfnet_stdc1_keys.txt", "backbone.", "stdc1"),
        ("sfnet_stdc2_keys.txt", "backbone.", "stdc2"),
        ("sfnet_lite_stdc2_keys.txt", "backbone.", "stdc2"),
        ("sfnet_df1_keys.txt", "backbone.", "df1"),
        ("sfnet_df2_keys.txt", "backbone.", "df2"),
    ],
)
def test_official_checkpoint_layouts_load_strictly(key_file, prefix, name):
    keys = read_keys(key_file, prefix)
    if key_file.startswith("sfnet_") and name.startswith("resnet"):
        keys = {k: s for k, s in keys.items() if k.startswith("layer")}
    model = build_backbone(name)
    if name.startswith("resnet"):
        expected_drops = [k for k in keys if k.startswith("fc.")]
    elif name.startswith("stdc"):
        expected_drops = _expected_stdc_drops(keys)
    else:
        expected_drops = []
    renamed, dropped = model.remap_pretrained(zeros_state_dict(keys))
    assert dropped == expected_drops
    own = model.state_dict()
    assert set(renamed) == set(own)
    assert all(tuple(renamed[k].shape) == tuple(own[k].shape) for k in own)
    load_strict(model, renamed, source=key_file)
    assert all(float(p.detach().abs().sum()) == 0 for p in model.parameters())


def _splitmix_weight(index: int, shape: list[int], bound: float) -> torch.Tensor:
    """The deterministic conv weights of the ``full_*`` golden files (golden README section 6)."""
    u = np.uint64
    z = (u(index) << u(32)) + np.arange(math.prod(shape), dtype=np.uint64)
    for mult, shift in ((0x9E3779B97F4A7C15, 30), (0xBF58476D1CE4E5B9, 27), (0x94D049BB133111EB, 31)):
        z = z * u(mult)  # uint64 array arithmetic wraps mod 2**64
        z = z ^ (z >> u(shift))
    top = (z >> u(41)).astype(np.int64)
    return torch.from_numpy(((2 * top - 2**23) / 2**23 * bound).astype(np.float32)).reshape(shape)


def test_official_sfnet_r18_backbone_features():
    """Deep stem + variant D with official weights gives the official layer1..4 outputs (1 ulp-level)."""
    g = torch.load(shared_path("golden", "sfnet", "full_sfnet_r18_tiny.pt"), map_location="cpu",
                   weights_only=True)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in g["state_dict"].items()}
    for i, (key, shape, bound) in enumerate(g["config"]["generated_tensors"]):
        if key.startswith("layer"):
            sd[key] = _splitmix_weight(i, shape, bound)
    renamed, _ = ResNet.remap_pretrained({k: v for k, v in sd.items() if k.startswith("layer")})
    model = build_backbone("resnet18", dilated=True).eval()
    load_strict(model, renamed, source="full_sfnet_r18_tiny.pt")
    with torch.no_grad():
        feats = model(g["inputs"]["image"])
    for name, feat in zip(("feat_s4", "feat_s8", "feat_s16", "feat_s32"), feats, strict=True):
        ref = g["outputs"][name]
        assert feat.shape == ref.shape
        assert (feat - ref).abs().max().item() <= g["config"]["tolerance_max_abs"][name], name


def test_sfnet_resnet_stem_names_map_to_ours():
    renamed, _ = ResNet.remap_pretrained(zeros_state_dict(read_keys("sfnet_r18_keys.txt")))
    assert "conv1.6.weight" in renamed and "layer0.0.6.weight" not in renamed
    assert tuple(renamed["bn1.running_var"].shape) == (128,)
    assert tuple(renamed["layer1.0.downsample.0.weight"].shape) == (64, 128, 1, 1)


def test_stdc_alias_that_differs_from_features_is_an_error(tmp_path):
    sd = zeros_state_dict(read_keys("stdc1_backbone_keys.txt"))
    sd["x8.0.3.conv_list.1.conv.weight"] = torch.ones_like(sd["x8.0.3.conv_list.1.conv.weight"])
    with pytest.raises(WeightsError, match=r"x8\.0\.3\.conv_list\.1\.conv\.weight.*features\.3"):
        STDCNet.remap_pretrained(sd)
    path = tmp_path / "stdc1.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=re.escape(str(path))):
        build_backbone("stdc1", pretrained=path)


def test_stdc_alias_without_features_copy_is_used():
    keys = read_keys("stdc1_backbone_keys.txt")
    sd = {k: v for k, v in zeros_state_dict(keys).items() if not k.startswith("features.2.")}
    renamed, dropped = STDCNet.remap_pretrained(sd)
    assert "features.2.avd_layer.0.weight" in renamed
    assert not any(k.startswith("x8.0.2.") for k in dropped)
    load_strict(build_backbone("stdc1"), renamed, source="test")


@pytest.mark.parametrize("cls", [DFNet1, DFNet2])
def test_dfnet_drops_imagenet_classifier(cls):
    sd = cls().state_dict()
    sd.update({"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)})
    renamed, dropped = cls.remap_pretrained(sd)
    assert dropped == ["fc.weight", "fc.bias"]
    load_strict(cls(), renamed, source="test")


def _torchvision_keys(depth: int) -> list[str]:
    """torchvision's resnet state-dict names, without ``fc``."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    blocks, n_convs = {18: ((2, 2, 2, 2), 2), 50: ((3, 4, 6, 3), 3)}[depth]
    keys = ["conv1.weight", *(f"bn1.{b}" for b in bn)]
    for layer, n in enumerate(blocks, start=1):
        for i in range(n):
            p = f"layer{layer}.{i}"
            for c in range(1, n_convs + 1):
                keys += [f"{p}.conv{c}.weight", *(f"{p}.bn{c}.{b}" for b in bn)]
            if i == 0 and (layer > 1 or depth == 50):
                keys += [f"{p}.downsample.0.weight", *(f"{p}.downsample.1.{b}" for b in bn)]
    return keys


@pytest.mark.parametrize("depth", [18, 50])
def test_torchvision_layout_and_checkpoint(depth, tmp_path, caplog):
    model = build_backbone(f"resnet{depth}", stem="standard")
    assert list(model.state_dict()) == _torchvision_keys(depth)
    assert tuple(model.conv1.weight.shape) == (64, 3, 7, 7)
    width = 512 * (1 if depth == 18 else 4)
    # a torchvision file: same names, plus fc, and (in old files) without num_batches_tracked
    sd = {k: v.clone() + 1 for k, v in build_backbone(f"resnet{depth}", stem="standard").state_dict().items()
          if not k.endswith("num_batches_tracked")}
    sd.update({"fc.weight": torch.zeros(1000, width), "fc.bias": torch.zeros(1000)})
    path = tmp_path / f"resnet{depth}.pth"
    torch.save(sd, path)
    _, dropped = ResNet.remap_pretrained(sd)
    assert dropped == ["fc.weight", "fc.bias"]
    with caplog.at_level(logging.INFO, logger="alignseg.models.backbones"):
        loaded = build_backbone(f"resnet{depth}", stem="standard", pretrained=str(path))
    assert "fc.weight" in caplog.text
    assert torch.equal(loaded.layer4[0].conv2.weight, sd["layer4.0.conv2.weight"])


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_dilated_variant_d(name):
    plain, dilated = build_backbone(name), build_backbone(name, dilated=True)
    for layer, dil in (("layer1", 1), ("layer2", 1), ("layer3", 2), ("layer4", 4)):
        for block in getattr(dilated, layer):
            conv = block.conv2
            assert conv.dilation == (dil, dil) and conv.padding == (dil, dil)
            assert block.conv1.dilation == (1, 1)
    if name == "resnet50":  # the first bottleneck's 3×3 both strides and dilates
        assert dilated.layer4[0].conv2.stride == (2, 2)
    assert _n_params(dilated) == _n_params(plain)
    assert dilated.strides == [4, 8, 16, 32]
    with torch.no_grad():
        out = dilated.eval()(torch.randn(1, 3, 64, 96))
    assert tuple(out[-1].shape[-2:]) == (2, 3)


def test_deep_stem_layout():
    model = build_backbone("resnet50")
    assert [type(m).__name__ for m in model.conv1] == ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["Conv2d"]
    assert model.conv1[0].stride == (2, 2) and model.bn1.num_features == 128
    assert tuple(model.layer1[0].downsample[0].weight.shape) == (256, 128, 1, 1)
    bn = model.bn1
    assert (bn.eps, bn.momentum) == (1e-5, 0.1)


def test_pretrained_missing_file(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(WeightsError, match=re.escape(str(path))):
        build_backbone("resnet18", pretrained=path)


def test_pretrained_wrong_key_and_shape(tmp_path):
    sd = build_backbone("df1").state_dict()
    sd["stage2.0.conv1.weigth"] = sd.pop("stage2.0.conv1.weight")
    path = tmp_path / "bad_key.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=re.escape(str(path))) as err:
        build_backbone("df1", pretrained=path)
    assert "stage2.0.conv1.weight" in str(err.value) and "stage2.0.conv1.weigth" in str(err.value)

    sd = build_backbone("df1").state_dict()
    sd["stage3.1.conv2.weight"] = torch.zeros(128, 128, 1, 1)
    path = tmp_path / "bad_shape.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=re.escape(str(path))) as err:
        build_backbone("df1", pretrained=path)
    assert "stage3.1.conv2.weight" in str(err.value)


def test_deep_stem_file_into_standard_stem_is_one_clear_error(tmp_path):
    path = tmp_path / "deep.pth"
    torch.save(build_backbone("resnet18").state_dict(), path)
    with pytest.raises(WeightsError, match="conv1"):
        build_backbone("resnet18", stem="standard", pretrained=path)


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError) as err:
        build_backbone("resnet152")
    assert isinstance(err.value, ValueError)
    assert all(name in str(err.value) for name in BACKBONES)
    assert issubclass(UnknownBackboneError, KeyError)


@pytest.mark.parametrize(
    "case", [("resnet18", "deep"), ("resnet50", "standard"), ("stdc1", None), ("df1", None), ("df2", None)],
    ids=_case_id,
)
def test_gradient_reaches_stem(case):
    model = _build(*case).train()
    sum(f.mean() for f in model(torch.randn(2, 3, 32, 64))).backward()
    stem_weight = next(model.parameters())
    assert stem_weight.dim() == 4 and stem_weight.shape[1] == 3
    assert stem_weight.grad is not None and stem_weight.grad.abs().sum() > 0


def test_in_channels():
    for name in ("resnet18", "stdc1", "df2"):
        model = build_backbone(name, in_channels=1).eval()
        assert len(model(torch.randn(1, 1, 32, 32))) == len(model.feature_info)
