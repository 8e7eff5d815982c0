"""Exported files run as they are: ``alignseg export`` writes the weights' record into the .onnx/.xml, and
``alignseg predict/eval/bench --weights model.onnx|model.xml`` read it, with no export at prediction time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import alignseg
from alignseg.cli import main
from alignseg.data import CAMVID_CLASSES, CAMVID_PALETTE
from alignseg.models.checkpoint import save_checkpoint

pytest.importorskip("onnxruntime", reason="onnxruntime is in the [deploy] extra")
pytest.importorskip("openvino", reason="openvino is in the [deploy] extra")

MODEL = "sfnet_df1"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A CamVid-like 11-class checkpoint, its .onnx and .xml exports (via the CLI) and a test image."""
    folder = tmp_path_factory.mktemp("exported")
    model = alignseg.create_model(MODEL, num_classes=11)
    with torch.no_grad():  # trained-like BatchNorm statistics, so logits are not dominated by one class
        model.train()
        for _ in range(2):
            model(torch.randn(2, 3, 96, 128))
    weights = save_checkpoint(folder / "model_best.safetensors", model.eval(), model=MODEL,
                              class_names=CAMVID_CLASSES, palette=CAMVID_PALETTE, metrics={"val_miou": 0.5})
    files = {"checkpoint": weights}
    for suffix, fmt in ((".onnx", "onnx"), (".xml", "openvino")):
        files[fmt] = folder / f"model{suffix}"
        assert main(["export", "--weights", str(weights), "--format", fmt, "-o", str(files[fmt]),
                     "--size", "96", "128"]) == 0
    rng = np.random.default_rng(0)
    image = np.zeros((90, 120, 3), np.uint8)
    image[:45] = (70, 130, 180)
    image[45:, :60] = (128, 64, 128)
    image[45:, 60:] = rng.integers(0, 256, (45, 60, 3))
    Image.fromarray(image).save(folder / "street.png")
    files["image"] = folder / "street.png"
    return files


def test_the_record_travels_inside_the_exported_files(exported):
    for fmt in ("onnx", "openvino"):
        predictor = alignseg.Predictor.from_checkpoint(exported[fmt])
        assert predictor.runner.name.startswith("onnxruntime" if fmt == "onnx" else "openvino")
        assert predictor.model_name == MODEL and predictor.num_classes == 11
        assert predictor.class_names == CAMVID_CLASSES and predictor.palette == CAMVID_PALETTE
        assert predictor.record.metrics == {"val_miou": 0.5} and predictor.record.align_corners is True
        assert predictor.record.source.startswith("exported from")


def test_exported_files_give_the_checkpoint_labels_without_exporting_again(exported, monkeypatch):
    reference = alignseg.Predictor.from_checkpoint(exported["checkpoint"], device="cpu")(exported["image"]).label

    def no_export(*args, **kwargs):
        raise AssertionError("an exported file must run without a new export")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    for fmt in ("onnx", "openvino"):
        labels = alignseg.Predictor.from_checkpoint(exported[fmt])(exported["image"]).label
        assert labels.shape == reference.shape
        assert (labels == reference).mean() >= 0.999, fmt


def test_cli_predict_eval_and_bench_take_exported_files(exported, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.onnx, "export", None)  # any export attempt would fail
    for fmt in ("onnx", "openvino"):
        out = tmp_path / fmt
        assert main(["predict", str(exported["image"]), "--weights", str(exported[fmt]), "-o", str(out),
                     "--quiet"]) == 0
        assert f"with {MODEL}" in capsys.readouterr().out and any(out.iterdir())
    assert main(["bench", "--weights", str(exported["onnx"]), "--size", "64", "96", "--runs", "1",
                 "--warmup", "0"]) == 0
    assert "onnxruntime" in capsys.readouterr().out
    assert main(["eval", "--weights", str(exported["openvino"]), "--dataset", "shapes", "data.workers=0",
                 "data.val_kwargs={num_samples: 1, size: 64}"]) == 2  # 6 shape classes vs 11: refused clearly
    assert "predicts 11 classes" in capsys.readouterr().err
    # a model name the file contradicts is refused by eval as by predict (eval used to accept it silently)
    for command in (["eval", "--dataset", "shapes", "data.workers=0"], ["predict", str(exported["image"])]):
        assert main([*command, "--weights", str(exported["onnx"]), "--model", "sfnet_r18", "-o",
                     str(tmp_path / "other")]) == 2
        assert f"holds model {MODEL}, not sfnet_r18" in capsys.readouterr().err


def test_batches_probabilities_and_pretrained_folders(exported, tmp_path):
    from alignseg.models.checkpoint import read_checkpoint

    checkpoint = read_checkpoint(exported["checkpoint"])
    model = alignseg.load_model(checkpoint)[0]
    folder = alignseg.save_pretrained(model, tmp_path / "camvid-df1", checkpoint.record,
                                      source="a test checkpoint")
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json", "README.md"}
    card = (folder / "README.md").read_text()
    assert "# sfnet_df1 (11 classes)" in card and "| 10 | Bicyclist | #0080c0 |" in card and "val_miou" in card
    predictor = alignseg.Predictor.from_pretrained(folder, device="cpu")
    image = np.asarray(Image.open(exported["image"]).convert("RGB"))
    single = predictor(image, return_probabilities=True)
    batch = predictor([image, image[::-1].copy(), image[:64, :96].copy()], return_probabilities=True)
    assert len(batch) == 3 and np.array_equal(batch[0].label, single.label)
    assert batch[2].label.shape == (64, 96)
    assert single.probabilities.shape == (11, 90, 120)
    np.testing.assert_allclose(single.probabilities.sum(0), 1.0, rtol=1e-5)
    assert np.array_equal(single.probabilities.argmax(0), single.label)
    assert np.array_equal(batch[0].probabilities, single.probabilities)
    flows = predictor(image, return_flows=True).flows
    assert len(flows) == 2 and flows[0].shape[0] == 2  # SFNet-DF1: one FAM flow per top-down level
