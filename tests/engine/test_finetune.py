"""Fine-tuning through ``alignseg train``: an 11-class (CamVid) checkpoint starts a 3-class custom folder
dataset; everything but the classifiers comes from the checkpoint, before the first step."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import alignseg
from alignseg.data import CAMVID_CLASSES, CAMVID_PALETTE
from alignseg.models.checkpoint import read_checkpoint, save_checkpoint

MODEL = "sfnet_df1"  # an aligned-FPN model: deep-supervision heads, whose classifiers are replaced too


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def camvid_checkpoint(path):
    """An 11-class model whose every tensor differs from a fresh initialisation (as a trained one would)."""
    model = alignseg.create_model(MODEL, num_classes=11, aux_heads=True)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.add_(0.01 * torch.randn(value.shape, generator=generator))
    return save_checkpoint(path, model, model=MODEL, class_names=CAMVID_CLASSES, palette=CAMVID_PALETTE,
                           source="CamVid training (a test stand-in)")


def folder_dataset(root, count: int = 4):
    """``root/images/*.jpg`` + ``root/labels/*.png`` with 3 classes (0, 1, 2) in bands."""
    rng = np.random.default_rng(0)
    for folder in ("images", "labels"):
        (root / folder).mkdir(parents=True)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / "images" / f"{index}.jpg")
        label = np.zeros((64, 64), np.uint8)
        label[:, 20:40], label[:, 40:] = 1, 2
        Image.fromarray(label).save(root / "labels" / f"{index}.png")
    return root


def test_camvid_checkpoint_fine_tunes_a_three_class_folder_dataset(tmp_path, monkeypatch, caplog):
    from alignseg.cli import main
    from alignseg.engine.module import SegmentationModule

    checkpoint = camvid_checkpoint(tmp_path / "camvid_model_best.safetensors")
    root = folder_dataset(tmp_path / "custom")
    split = {"image_dir": str(root / "images"), "label_dir": str(root / "labels")}
    config = {
        "model": {"name": MODEL, "pretrained": str(checkpoint)},
        "data": {"dataset": "folder", "kwargs": {"class_names": ["sky", "road", "car"]}, "train_kwargs": split,
                 "val_kwargs": split, "crop_size": 64, "batch_size": 2, "workers": 0},
        "train": {"max_steps": 2, "accelerator": "cpu", "threads": 1, "progress_bar": False,
                  "output_dir": str(tmp_path / "run")},
    }
    path = tmp_path / "finetune.yaml"
    path.write_text(yaml.safe_dump(config))
    before_first_step = {}

    def capture(module):
        before_first_step.update({k: v.detach().clone() for k, v in module.model.state_dict().items()})

    monkeypatch.setattr(SegmentationModule, "on_train_start", capture, raising=False)
    with caplog.at_level(logging.WARNING):
        assert main(["train", "--config", str(path)]) == 0
    assert "fine-tuning from 11 to 3 classes" in caplog.text

    stored = read_checkpoint(checkpoint).state_dict
    assert before_first_step.keys() == stored.keys()  # aux heads too: the recipe trains with them
    classifiers = {k for k, v in stored.items() if v.shape != before_first_step[k].shape}
    heads = {k.split(".")[1] for k in stored if k.startswith("aux_heads.")}
    assert heads and classifiers == {f"{module}.classifier.{p}" for module in ["decoder", *(f"aux_heads.{i}"
                                     for i in heads)] for p in ("weight", "bias")}
    assert all(before_first_step[k].shape[0] == 3 for k in classifiers)
    for key, value in stored.items():
        if key not in classifiers:
            assert torch.equal(before_first_step[key], value), key
    trained = read_checkpoint(tmp_path / "run" / "model_last.safetensors").record
    assert trained.num_classes == 3 and trained.class_names == ("sky", "road", "car")


def test_a_whole_model_checkpoint_initialises_a_backbone(tmp_path):
    checkpoint = camvid_checkpoint(tmp_path / "camvid.safetensors")
    model = alignseg.create_model(MODEL, num_classes=5, backbone_pretrained=checkpoint)
    stored = read_checkpoint(checkpoint).state_dict
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, stored[f"backbone.{key}"]), key
    fresh = alignseg.create_model(MODEL, num_classes=5)
    assert not torch.equal(model.decoder.classifier.weight, stored["decoder.classifier.weight"][:5])
    assert model.decoder.classifier.weight.shape == fresh.decoder.classifier.weight.shape
