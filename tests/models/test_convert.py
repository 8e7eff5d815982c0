"""Released SFNet checkpoints convert onto the zoo models: every official tensor is mapped or reported.

Checkpoints are synthesised from the official key lists (../shared/golden/sfnet/*_keys.txt) with random
values, wrapped as the official training script saves them (``{"state_dict": {"module." + key: ...}}``).
"""

from __future__ import annotations

import re

import pytest
import torch
from conftest import shared_path

import alignseg
from alignseg.cli import main
from alignseg.models.checkpoint import read_checkpoint
from alignseg.models.convert.checkpoint import convert_checkpoint
from alignseg.models.weights import WeightsError

_ALIAS = re.compile(r"^#\s+(\S+) = (\S+)$")


def official_state_dict(key_file: str) -> dict[str, torch.Tensor]:
    """Random tensors with the official names and shapes; aliases hold copies of their originals."""
    generator = torch.Generator().manual_seed(0)
    aliases, state = {}, {}
    for line in shared_path("golden", "sfnet", key_file).read_text().splitlines():
        if (match := _ALIAS.match(line)) is not None:
            aliases[match.group(1) + "."] = match.group(2) + "."
        if not line or line.startswith("#"):
            continue
        key, shape_text = line.split()
        shape = tuple(int(s) for s in shape_text.strip("()").split(",") if s)
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        else:
            state[key] = torch.rand(shape, generator=generator) + 0.5
    for key in list(state):
        for alias, original in aliases.items():
            if key.startswith(alias):
                state[key] = state[original + key[len(alias):]].clone()
    return state


def save_official(tmp_path, key_file: str) -> tuple[str, dict[str, torch.Tensor]]:
    state = official_state_dict(key_file)
    path = tmp_path / key_file.replace("_keys.txt", ".pth")
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3, "mean_iu": 0.5}, path)
    return str(path), state


CASES = [
    # key file, zoo model, classes of official tensors dropped (prefix up to the 2nd dot)
    ("sfnet_r18_keys.txt", "sfnet_r18", set()),
    ("sfnet_lite_r18_keys.txt", "sfnet_lite_r18", {"head.fpn_in", "head.dsn"}),
    ("sfnet_stdc1_keys.txt", "sfnet_stdc1", {"backbone.x2", "backbone.x4", "backbone.x8", "backbone.x16",
                                             "backbone.x32", "backbone.conv_last", "backbone.fc", "backbone.bn",
                                             "backbone.linear"}),
    ("sfnet_stdc2_keys.txt", "sfnet_stdc2", None),
    ("sfnet_lite_stdc1_keys.txt", "sfnet_lite_stdc1", None),
    ("sfnet_lite_stdc2_keys.txt", "sfnet_lite_stdc2", None),
    ("sfnet_df1_keys.txt", "sfnet_df1", set()),
    ("sfnet_df2_keys.txt", "sfnet_df2", set()),
    ("sfnet_df1_dsn_keys.txt", "sfnet_df1", set()),
    ("sfnet_df2_dsn_keys.txt", "sfnet_df2", set()),
]


@pytest.mark.parametrize(("key_file", "model_name", "dropped_groups"), CASES)
def test_conversion_maps_every_official_tensor(tmp_path, key_file, model_name, dropped_groups):
    source, official = save_official(tmp_path, key_file)
    output = tmp_path / f"{model_name}.pt"
    report = convert_checkpoint("sfsegnets", source, output, model_name)
    saved = read_checkpoint(output).record
    assert saved.model == model_name and saved.num_classes == 19 and saved.source.startswith("converted from")
    model = alignseg.create_model(model_name, pretrained=output).eval()
    ours = model.state_dict()
    # the classifier and the first backbone conv carry the official values
    assert torch.equal(ours["decoder.classifier.weight"], official["head.conv_last.1.weight"])
    first_conv = next(k for k in official if k.endswith("weight") and official[k].dim() == 4)
    assert any(torch.equal(v, official[first_conv]) for v in ours.values())
    if dropped_groups is not None:
        assert {".".join(k.split(".")[:2]) for k in report.dropped} == dropped_groups
    # everything the file held is accounted for: loaded into the model or listed as dropped
    assert len(report.state_dict) + len(report.dropped) == len(official)
    assert len(model.aux_heads) == (2 if "dsn" in key_file else 0)


def test_convert_command_prints_the_dropped_tensors(tmp_path, capsys):
    source, _ = save_official(tmp_path, "sfnet_lite_r18_keys.txt")
    output = tmp_path / "lite.pt"
    assert main(["convert", "--from", "sfsegnets", source, str(output), "--model", "sfnet_lite_r18"]) == 0
    printed = capsys.readouterr().out
    assert "dropped 16 unused tensors" in printed and "head.fpn_in.2.0.weight" in printed
    assert f"wrote {output}" in printed


def test_dsn_heads_are_kept_for_fine_tuning(tmp_path):
    source, official = save_official(tmp_path, "sfnet_df1_dsn_keys.txt")
    output = tmp_path / "df1.pt"
    assert main(["convert", "--from", "sfsegnets", source, str(output), "--model", "sfnet_df1"]) == 0
    model = alignseg.create_model("sfnet_df1", pretrained=output)
    assert torch.equal(model.aux_heads[1].classifier.weight, official["head.dsn.1.4.weight"])


def test_released_checkpoint_loads_directly_through_create_model(tmp_path, caplog):
    source, official = save_official(tmp_path, "sfnet_lite_r18_keys.txt")
    with caplog.at_level("WARNING"):
        model = alignseg.create_model("sfnet_lite_r18", pretrained=source)
    assert torch.equal(model.decoder.align.gate_conv.weight, official["head.flow_align_module.flow_gate.0.weight"])
    assert "never used" in caplog.text and "never called" in caplog.text


def test_wrong_model_for_checkpoint_names_the_file_and_keys(tmp_path):
    source, _ = save_official(tmp_path, "sfnet_r18_keys.txt")
    with pytest.raises(Exception, match=r"sfnet_r18\.pth") as info:
        alignseg.create_model("sfnet_lite_r18", pretrained=source)
    assert "fpn_out" in str(info.value) or "laterals" in str(info.value)


def test_unrecognised_official_key_is_an_error(tmp_path):
    source, state = save_official(tmp_path, "sfnet_r18_keys.txt")
    state["head.extra_branch.weight"] = torch.zeros(3)
    torch.save(state, source)
    with pytest.raises(KeyError, match=r"no conversion rule for official key 'head\.extra_branch\.weight'"):
        alignseg.create_model("sfnet_r18", pretrained=source)


def test_class_count_mismatch_names_the_tensor(tmp_path):
    source, _ = save_official(tmp_path, "sfnet_r18_keys.txt")
    with pytest.raises(WeightsError, match=r"decoder\.classifier\.weight: file \(19, 128, 1, 1\) vs model \(11"):
        alignseg.create_model("sfnet_r18", num_classes=11, pretrained=source)


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match=r"weights file not found: .*nope\.pth"):
        alignseg.create_model("sfnet_r18", pretrained=tmp_path / "nope.pth")


def test_convert_command_reports_errors_without_traceback(tmp_path, capsys):
    assert main(["convert", "--from", "sfsegnets", str(tmp_path / "x.pth"), str(tmp_path / "y.pt"),
                 "--model", "fcn_r18"]) == 2
    assert "fcn_r18 has no released 'sfsegnets' checkpoints" in capsys.readouterr().err
