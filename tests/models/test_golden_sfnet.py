"""Our SFNet modules reproduce the released code's outputs (../shared/golden/sfnet) after conversion.

Module-level state dicts are renamed with the converter's own rule tables (by giving them the prefix
they carry inside the released model), so these tests check the converter and the modules together.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path

import alignseg
from alignseg.models.convert import convert_sfsegnets, rename_head
from alignseg.models.decoders import AlignedFPNDecoder, LiteAlignedDecoder
from alignseg.models.ops.fam import FlowAlignmentModule
from alignseg.models.ops.gdfam import GatedDualFlowAlignmentModule
from alignseg.models.ops.ppm import PyramidPoolingModule
from alignseg.models.weights import load_strict, strip_prefix


def load_golden(name: str) -> dict:
    return torch.load(shared_path("golden", "sfnet", f"{name}.pt"), map_location="cpu", weights_only=True)


def module_state_dict(golden: dict, official_prefix: str, decoder_kind: str, our_prefix: str) -> dict:
    """Rename a module's official keys as they would be inside the whole released model."""
    prefixed = {official_prefix + k: v for k, v in golden["state_dict"].items()}
    report = rename_head(prefixed, decoder_kind, with_aux_heads=False)
    assert not report.dropped or decoder_kind == "lite"
    return strip_prefix(report.state_dict, our_prefix)


def assert_close_to_golden(golden: dict, ours: dict[str, torch.Tensor]) -> None:
    tolerances = golden["config"]["tolerance_max_abs"]
    assert set(ours) == set(golden["outputs"])
    for name, reference in golden["outputs"].items():
        assert ours[name].shape == reference.shape, name
        error = (ours[name] - reference).abs().max().item()
        assert error <= tolerances[name], f"{name}: max abs error {error:.3g} > {tolerances[name]}"


def test_fam_matches_released_module():
    golden = load_golden("fam")
    fam = FlowAlignmentModule(128).eval()
    load_strict(fam, module_state_dict(golden, "head.fpn_out_align.0.", "aligned_fpn", "decoder.aligners.0."), "fam")
    with torch.no_grad():
        aligned, flow = fam(golden["inputs"]["low"], golden["inputs"]["high"])
    assert_close_to_golden(golden, {"aligned": aligned, "flow": flow})


def test_gdfam_matches_released_module():
    golden = load_golden("gdfam")
    module = GatedDualFlowAlignmentModule(128, gate="pooled").eval()
    load_strict(module, module_state_dict(golden, "head.flow_align_module.", "lite", "decoder.align."), "gdfam")
    with torch.no_grad():
        out = module(golden["inputs"]["low"], golden["inputs"]["high"])
    assert_close_to_golden(golden, {"fused": out.fused, "flow": out.flow, "gate": out.gate})


def test_ppm_matches_released_module():
    golden = load_golden("ppm")
    ppm = PyramidPoolingModule(512, 128).eval()
    load_strict(ppm, module_state_dict(golden, "head.ppm.", "aligned_fpn", "decoder.ppm."), "ppm")
    with torch.no_grad():
        out = ppm(golden["inputs"]["x"])
    assert_close_to_golden(golden, {"out": out})


def _features(golden: dict) -> list[torch.Tensor]:
    return [golden["inputs"][k] for k in ("feat_s4", "feat_s8", "feat_s16", "feat_s32")]


def _record_outputs(modules: dict[str, torch.nn.Module]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for name, module in modules.items():
        module.register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out))
    return seen


def test_sfnet_r18_decoder_matches_released_head():
    golden = load_golden("head_sfnet_r18")
    decoder = AlignedFPNDecoder([64, 128, 256, 512], 19, channels=128).eval()
    load_strict(decoder, module_state_dict(golden, "head.", "aligned_fpn", "decoder."), "head_sfnet_r18")
    seen = _record_outputs({"ppm": decoder.ppm, **{f"fpn_out.{i}": decoder.outputs[i] for i in range(3)}})
    with torch.no_grad():
        out = decoder(_features(golden))
    flows = dict(zip(["flow.2", "flow.1", "flow.0"], out.flows, strict=True))  # computed coarse -> fine
    assert_close_to_golden(golden, {"logits": out.logits, **seen, **flows})


def test_sfnet_lite_r18_decoder_matches_released_head_and_drops_unused_tensors():
    golden = load_golden("head_sfnet_lite_r18")
    prefixed = {"head." + k: v for k, v in golden["state_dict"].items()}
    report = rename_head(prefixed, "lite", with_aux_heads=False)
    assert {k.split(".")[1] for k in report.dropped} == {"fpn_in", "dsn"}
    assert all(k.startswith(("head.fpn_in.2.", "head.dsn.")) for k in report.dropped)
    decoder = LiteAlignedDecoder([64, 128, 256, 512], 19, channels=128).eval()
    load_strict(decoder, strip_prefix(report.state_dict, "decoder."), "head_sfnet_lite_r18")
    seen = _record_outputs({"ppm": decoder.ppm, "align": decoder.align})
    with torch.no_grad():
        out = decoder(_features(golden))
    fused, flow, gate = seen.pop("align")
    assert_close_to_golden(golden, {"logits": out.logits, "ppm": seen["ppm"], "fused": fused, "flow": flow,
                                    "gate": gate})


def generated_weight(index: int, shape: tuple[int, ...], bound: float) -> torch.Tensor:
    """The golden files' splitmix64 weight generator (golden/sfnet/README.md section 6)."""
    u = np.uint64
    with np.errstate(over="ignore"):
        z = (u(index) << u(32)) + np.arange(int(np.prod(shape)), dtype=np.uint64)
        z = z * u(0x9E3779B97F4A7C15)
        z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
        z = z ^ (z >> u(31))
    m = (z >> u(41)).astype(np.int64)
    values = (2 * m - 2**23).astype(np.float64) / 2**23 * bound
    return torch.from_numpy(values.astype(np.float32)).reshape(shape)


def official_full_state_dict(golden: dict) -> dict[str, torch.Tensor]:
    state = {k: v.float() if v.is_floating_point() else v for k, v in golden["state_dict"].items()}
    for index, (key, shape, bound) in enumerate(golden["config"]["generated_tensors"]):
        state[key] = generated_weight(index, tuple(shape), bound)
    return state


@pytest.mark.parametrize(("file", "name", "decoder_kind", "unused"), [
    ("full_sfnet_r18_tiny", "sfnet_r18", "aligned_fpn", set()),
    ("full_sfnet_lite_r18_tiny", "sfnet_lite_r18", "lite", {"fpn_in", "dsn"}),
])
def test_full_model_matches_released_model(file, name, decoder_kind, unused):
    golden = load_golden(file)
    state = official_full_state_dict(golden)
    assert len(state) == {"sfnet_r18": 224, "sfnet_lite_r18": 210}[name]
    model = alignseg.create_model(name, num_classes=19).eval()
    report = convert_sfsegnets({"module." + k: v for k, v in state.items()}, model, backbone_name="resnet18",
                               decoder_kind=decoder_kind, source=file)
    assert {k.split(".")[1] for k in report.dropped} == unused
    seen = _record_outputs({"backbone": model.backbone, "decoder": model.decoder})
    image = golden["inputs"]["image"]
    with torch.no_grad():
        logits = model(image)
    features = dict(zip(["feat_s4", "feat_s8", "feat_s16", "feat_s32"], seen["backbone"], strict=True))
    assert_close_to_golden(golden, {**features, "logits_s4": seen["decoder"].logits})
    expected = torch.nn.functional.interpolate(golden["outputs"]["logits_s4"], size=image.shape[-2:],
                                               mode="bilinear", align_corners=True)
    assert (logits - expected).abs().max().item() <= 2e-5
