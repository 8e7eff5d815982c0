"""``alignseg export``: exit status 0 with a parity table on success, non-zero and no file on a parity failure."""

from __future__ import annotations

import sys

import pytest

from alignseg.cli import main

pytest.importorskip("onnxruntime", reason="onnxruntime is in the [deploy] extra")

ARGS = ["export", "sfnet_lite_r18", "--random-init", "--size", "64", "128", "--check-size", "72", "100",
        "--check-size", "65", "97"]


def test_export_succeeds(tmp_path, capsys):
    output = tmp_path / "lite.onnx"
    assert main([*ARGS, "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert output.is_file()
    assert "72x100" in printed and "65x97" in printed and "argmax agreement" in printed and "FAILED" not in printed


def test_forced_parity_failure_exits_non_zero(tmp_path, capsys):
    output = tmp_path / "lite.onnx"
    assert main([*ARGS, "--output", str(output), "--max-diff", "0", "--no-noise-floor"]) == 1
    captured = capsys.readouterr()
    assert "parity check FAILED" in captured.err and "FAILED" in captured.out
    assert not output.exists()


def test_openvino_export(tmp_path):
    pytest.importorskip("openvino")
    output = tmp_path / "lite.xml"
    assert main(["export", "sfnet_lite_r18", "--random-init", "--size", "64", "128", "--static", "--format",
                 "openvino", "--output", str(output)]) == 0
    assert output.is_file() and output.with_suffix(".bin").is_file()


def test_export_needs_weights_or_random_init(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["export", "sfnet_lite_r18", "--output", str(tmp_path / "x.onnx")])
    assert main(["export", "sfnet_lite_r18", "--weights", str(tmp_path / "missing.pt"),
                 "--output", str(tmp_path / "x.onnx")]) == 2
    assert "not found" in capsys.readouterr().err


def test_missing_extra_is_one_line_naming_it_for_every_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openvino", None)  # an import of it now fails
    assert main(["bench", "sfnet_df1", "--backend", "openvino", "--size", "64", "128", "--runs", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "alignseg bench: error: openvino is not installed: pip install 'alignseg[deploy]'\n"
