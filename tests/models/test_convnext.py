"""ConvNeXt trunks: timm's parameter counts and key names, feature strides, stochastic depth, output norms."""

from __future__ import annotations

import logging

import pytest
import torch

from alignseg.models.backbones import build_backbone
from alignseg.models.backbones.convnext import ConvNeXt, DropPath
from alignseg.models.weights import WeightsError

ARCH = {  # timm convnext.py: convnext_{tiny,small,base,large} (depths, dims)
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
}
# timm's convnext_* with its 1000-class ImageNet head, counted by hand from timm's convnext.py (below) and
# matching the model cards (huggingface.co/timm/convnext_tiny.*: "Params (M): 28.6"; small 50.2, base 88.6,
# large 197.8; the 22k cards' 44.6M = 28,589,128 - 769,000 + 21,841 * 769 check the same formula).
TIMM_PARAMS = {"tiny": 28_589_128, "small": 50_223_688, "base": 88_591_464, "large": 197_767_336}


def timm_keys(depths, dims, *, head: bool = True) -> dict[str, tuple[int, ...]]:
    """timm's ConvNeXt state dict (``conv_mlp=False``, patch stem, ``head_norm_first=False``): name -> shape."""
    keys = {"stem.0.weight": (dims[0], 3, 4, 4), "stem.0.bias": (dims[0],),
            "stem.1.weight": (dims[0],), "stem.1.bias": (dims[0],)}
    for i, (depth, c) in enumerate(zip(depths, dims, strict=True)):
        if i > 0:  # stage 0 keeps the width and stride: its downsample is nn.Identity
            p = dims[i - 1]
            keys |= {f"stages.{i}.downsample.0.weight": (p,), f"stages.{i}.downsample.0.bias": (p,),
                     f"stages.{i}.downsample.1.weight": (c, p, 2, 2), f"stages.{i}.downsample.1.bias": (c,)}
        for j in range(depth):
            b = f"stages.{i}.blocks.{j}"
            keys |= {f"{b}.gamma": (c,), f"{b}.conv_dw.weight": (c, 1, 7, 7), f"{b}.conv_dw.bias": (c,),
                     f"{b}.norm.weight": (c,), f"{b}.norm.bias": (c,),
                     f"{b}.mlp.fc1.weight": (4 * c, c), f"{b}.mlp.fc1.bias": (4 * c,),
                     f"{b}.mlp.fc2.weight": (c, 4 * c), f"{b}.mlp.fc2.bias": (c,)}
    if head:  # norm_pre is nn.Identity; NormMlpClassifierHead without hidden layer: norm + fc
        c = dims[-1]
        keys |= {"head.norm.weight": (c,), "head.norm.bias": (c,), "head.fc.weight": (1000, c), "head.fc.bias": (1000,)}
    return keys


def _numel(shapes) -> int:
    return sum(torch.Size(s).numel() for s in shapes)


@pytest.mark.parametrize("arch", list(ARCH))
def test_parameters_equal_timm_minus_the_classifier_head(arch):
    depths, dims = ARCH[arch]
    assert _numel(timm_keys(depths, dims).values()) == TIMM_PARAMS[arch]  # the hand count is timm's
    head = 2 * dims[-1] + 1000 * dims[-1] + 1000
    with torch.device("meta"):
        model = build_backbone(f"convnext_{arch}")
    out_norms = sum(p.numel() for name, p in model.named_parameters() if name.startswith("norm"))
    assert out_norms == 2 * sum(dims)  # the four per-stage output LayerNorms (new, not in timm)
    assert sum(p.numel() for p in model.parameters()) - out_norms == TIMM_PARAMS[arch] - head


@pytest.mark.parametrize("arch", ["tiny", "large"])
def test_timm_state_dict_loads_without_missing_or_unexpected_keys(arch, tmp_path, caplog):
    depths, dims = ARCH[arch]
    with torch.device("meta"):
        model = build_backbone(f"convnext_{arch}")
    own = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith("norm")}
    assert own == timm_keys(depths, dims, head=False)
    if arch != "tiny":
        return  # writing a 200M-parameter file is too slow for the suite; the names and shapes are checked
    source = {k: torch.randn(s) for k, s in timm_keys(depths, dims).items()}
    source["norm_pre.weight"] = torch.ones(dims[-1])  # timm's head_norm_first variant: dropped as well
    path = tmp_path / "convnext_tiny.pth"
    torch.save(source, path)
    with caplog.at_level(logging.INFO, logger="alignseg.models.backbones"):
        loaded = build_backbone("convnext_tiny", pretrained=path)
    assert "ignoring 5 unused keys (head.norm.weight" in caplog.text
    assert "norm0, norm1, norm2, norm3 are not in the file" in caplog.text
    state = loaded.state_dict()
    for key, value in source.items():
        if not key.startswith(("head.", "norm_pre.")):
            assert torch.equal(state[key], value), key
    for i, c in enumerate(dims):  # identity affine
        assert torch.equal(state[f"norm{i}.weight"], torch.ones(c))
        assert torch.equal(state[f"norm{i}.bias"], torch.zeros(c))


def test_own_output_norms_in_a_file_are_kept_and_a_non_convnext_file_is_an_error():
    sd = {k: torch.randn(s) for k, s in timm_keys((1, 1, 1, 1), (8, 8, 8, 8), head=False).items()}
    sd["norm2.weight"], sd["norm2.bias"] = torch.full((8,), 3.0), torch.zeros(8)
    out, dropped = ConvNeXt.remap_pretrained(sd)
    assert dropped == [] and torch.equal(out["norm2.weight"], torch.full((8,), 3.0))
    assert torch.equal(out["norm0.weight"], torch.ones(8))
    with pytest.raises(WeightsError, match=r"stages\.0\.blocks"):
        ConvNeXt.remap_pretrained({"conv1.weight": torch.zeros(1)})


def test_features_strides_and_channels_at_odd_sizes():
    model = ConvNeXt((1, 1, 2, 1), (8, 16, 24, 32)).eval()
    assert model.strides == [4, 8, 16, 32] and model.channels == [8, 16, 24, 32]
    with torch.no_grad():
        feats = model(torch.randn(2, 3, 67, 93))
    # 4x4/4 patch stem (floor), then 2x2/2 downsamplings (floor)
    assert [tuple(f.shape) for f in feats] == [(2, 8, 16, 23), (2, 16, 8, 11), (2, 24, 4, 5), (2, 32, 2, 2)]
    for f in feats:  # each stage output is layer-normalised over channels (identity affine at init)
        assert f.mean(1).abs().max() < 1e-5
        assert torch.allclose(f.var(1, unbiased=False), torch.ones(()), atol=1e-3)
    assert ConvNeXt((1, 1, 2, 1), (8, 16, 24, 32), layer_scale_init=0.5).stages[1].blocks[0].gamma.eq(0.5).all()
    assert build_backbone("convnext_tiny").stages[0].blocks[0].gamma.eq(1e-6).all()


def test_block_computes_the_convnext_residual():
    model = ConvNeXt((1, 1, 1, 1), (8, 8, 8, 8), layer_scale_init=0.3)
    block = model.stages[0].blocks[0]
    x = torch.randn(1, 8, 9, 9)
    y = block.conv_dw(x).permute(0, 2, 3, 1)
    y = torch.nn.functional.layer_norm(y, (8,), block.norm.weight, block.norm.bias, 1e-6)
    y = torch.nn.functional.gelu(y @ block.mlp.fc1.weight.T + block.mlp.fc1.bias) @ block.mlp.fc2.weight.T
    y = (y + block.mlp.fc2.bias) * 0.3
    assert torch.allclose(block(x), x + y.permute(0, 3, 1, 2), atol=1e-6)


def test_drop_path_rates_rise_linearly_and_are_off_in_eval():
    model = ConvNeXt((1, 1, 1, 1), (8, 8, 8, 8), drop_path_rate=0.3)
    rates = [b.drop_path.p for s in model.stages for b in s.blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model(x), model(x), strict=True))
    model.train()
    with torch.no_grad():
        assert not all(torch.equal(a, b) for a, b in zip(model(x), model(x), strict=True))


def test_drop_path_keeps_or_drops_whole_samples_and_keeps_the_expectation():
    drop = DropPath(0.5).train()
    y = drop(torch.ones(4000, 2, 3, 3))
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()  # one decision per sample
    assert y.mean().item() == pytest.approx(1.0, abs=0.08)
    with pytest.raises(ValueError, match="drop path"):
        DropPath(1.0)


def test_exports_to_onnx_with_onnx_runtime_parity(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime is in the [deploy] extra")
    pytest.importorskip("onnx", reason="onnx is in the [deploy] extra")
    from alignseg.deploy.export import export_model
    from alignseg.models.decoders import UperNetDecoder
    from alignseg.models.segmentor import Segmentor

    backbone = ConvNeXt((1, 1, 2, 1), (8, 16, 24, 32), layer_scale_init=0.5, drop_path_rate=0.2)
    for norm in (backbone.norm0, backbone.norm3):  # non-trivial affine, so that a mis-exported norm would show
        torch.nn.init.normal_(norm.weight, 1.0, 0.2)
        torch.nn.init.normal_(norm.bias, 0.0, 0.2)
    model = Segmentor(backbone, UperNetDecoder(backbone.channels, 4, channels=16), align_corners=False)
    report = export_model(model, tmp_path / "convnext.onnx", size=(64, 96), check_sizes=[(70, 101), (96, 64)])
    assert report.passed and all(c.max_abs_diff < 1e-4 for c in report.checks)
