"""A pickle payload planted in an old-style .pt checkpoint is never executed by any command: every weights
file is read by ``alignseg.models.checkpoint`` with ``torch.load(weights_only=True)`` or as safetensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import alignseg
from alignseg.cli import main
from alignseg.models.checkpoint import read_checkpoint
from alignseg.models.weights import WeightsError

MODEL = "sfnet_df1"


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker file appears if the pickle is executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture
def planted(tmp_path):
    """``(evil.pt, marker)``: a real 3-class checkpoint with the payload beside the state dict."""
    marker = tmp_path / "PAYLOAD_RAN"
    state = alignseg.create_model(MODEL, num_classes=3).state_dict()
    path = tmp_path / "evil.pt"
    torch.save({"model": MODEL, "num_classes": 3, "state_dict": state, "note": Payload(marker)}, path)
    return path, marker


def test_the_payload_is_live(planted, tmp_path):
    path, marker = planted
    torch.load(path, weights_only=False)  # what a careless reader would do: the payload runs
    assert marker.exists()


def test_the_reader_refuses_it_without_running_it(planted, tmp_path):
    path, marker = planted
    with pytest.raises(WeightsError, match="weights_only"):
        read_checkpoint(path)
    ckpt = tmp_path / "last.ckpt"  # the Lightning layout of a training checkpoint
    torch.save({"alignseg": {"model": MODEL}, "state_dict": {"model.w": torch.ones(1)}, "x": Payload(marker)}, ckpt)
    with pytest.raises(WeightsError):
        read_checkpoint(ckpt)
    assert not marker.exists()


def test_no_command_runs_it(planted, tmp_path, capsys):
    path, marker = planted
    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(image)
    commands = {
        "predict": ["predict", str(image), "--weights", str(path), "-o", str(tmp_path / "out")],
        "eval": ["eval", "--weights", str(path), "--dataset", "shapes", "data.workers=0",
                 "data.val_kwargs={num_samples: 1, size: 64}"],
        "export": ["export", "--weights", str(path), "-o", str(tmp_path / "m.onnx"), "--size", "64", "64"],
        "bench": ["bench", "--weights", str(path), "--size", "64", "64", "--runs", "1"],
        "convert": ["convert", "--from", "sfsegnets", str(path), str(tmp_path / "c.safetensors"), "--model", MODEL],
    }
    for name, argv in commands.items():
        assert main(argv) == 2, name
        assert "weights_only" in capsys.readouterr().err, name
        assert not marker.exists(), name


@pytest.mark.parametrize("key", ["pretrained", "backbone_pretrained"])
def test_training_from_it_refuses_it(planted, tmp_path, capsys, key):
    path, marker = planted
    config = {"model": {"name": MODEL, key: str(path)},
              "data": {"dataset": "shapes", "train_kwargs": {"num_samples": 2, "size": 64},
                       "val_kwargs": {"num_samples": 1, "size": 64}, "crop_size": 64, "batch_size": 1, "workers": 0},
              "train": {"max_steps": 1, "accelerator": "cpu", "progress_bar": False, "output_dir": str(tmp_path / "r")}}
    file = tmp_path / "train.yaml"
    file.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(file)]) == 2
    assert "weights_only" in capsys.readouterr().err and not marker.exists()
