"""Exports installed so that no kill leaves a mismatched OpenVINO pair, and ``-o DIR`` named (issue 10, finding 6)."""

import os

import pytest
from torch import nn

import alignseg.deploy.export as export
from alignseg.deploy.export import export_model, install


def new_pair(tmp_path):
    folder = tmp_path / ".alignseg-export-x"
    folder.mkdir()
    (folder / "model.xml").write_text("new xml")
    (folder / "model.bin").write_text("new bin")
    return [folder / "model.xml", folder / "model.bin"]


@pytest.mark.parametrize("killed_at", [0, 1, 2])
def test_a_kill_between_the_renames_never_leaves_a_mismatched_openvino_pair(tmp_path, monkeypatch, killed_at):
    """issue 10 finding 6: OpenVINO .xml/.bin were renamed one after the other; a kill between them left a new
    .bin read with the old .xml. Now: old .xml removed, .bin renamed, .xml last."""
    target = tmp_path / "net.xml"
    target.write_text("old xml")
    target.with_suffix(".bin").write_text("old bin")
    calls = []
    replace = os.replace

    def dying(source, destination):
        if len(calls) == killed_at:
            raise KeyboardInterrupt  # as if killed here
        calls.append(destination)
        replace(source, destination)

    monkeypatch.setattr(export.os, "replace", dying)
    written = new_pair(tmp_path)
    if killed_at < 2:
        with pytest.raises(KeyboardInterrupt):
            install(written, target)
    else:
        install(written, target)
    if target.exists():  # whatever .xml is there is read with the .bin of its own export
        xml, binary = target.read_text(), target.with_suffix(".bin").read_text()
        assert xml.split()[0] == binary.split()[0]
    assert (killed_at == 2) == target.exists()
    if killed_at == 2:
        assert target.read_text() == "new xml" and target.with_suffix(".bin").read_text() == "new bin"


@pytest.mark.parametrize("name", ["exports", "exports.onnx"])
def test_export_to_a_folder_is_an_error_naming_what_is_expected(tmp_path, name):
    """issue 10 finding 6: `alignseg export -o DIR` reported a path that was not the file written."""
    folder = tmp_path / name
    folder.mkdir()
    expected = rf"{name}' is a folder: give a file path such as .*model\.onnx"
    with pytest.raises(ValueError, match=expected):
        export_model(nn.Conv2d(3, 2, 1), folder, format="onnx", size=(64, 64))
    assert list(folder.iterdir()) == []
