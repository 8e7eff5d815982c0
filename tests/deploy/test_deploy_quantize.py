"""INT8 post-training quantisation (NNCF → OpenVINO) calibrated on real CamVid images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from alignseg.cli import main
from alignseg.deploy.export import export_model
from alignseg.deploy.loading import random_model
from alignseg.deploy.quantize import (
    calibration_batches,
    image_batch,
    is_quantized,
    list_images,
    quantize_openvino,
    spread,
)
from alignseg.deploy.runtimes import build_runner, check_precision

SIZE = (64, 128)


@pytest.fixture(scope="module")
def camvid():
    return shared_path("data", "camvid", "images")


@pytest.fixture(scope="module")
def small_model():
    return random_model("sfnet_df1")


def test_spread_takes_evenly_spaced_items_with_both_ends():
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread(list(range(3)), 5) == [0, 1, 2]
    assert spread(list(range(7)), 1) == [0]
    with pytest.raises(ValueError, match="at least one"):
        spread([1, 2], 0)


def test_image_batch_is_resized_rgb_normalised_with_imagenet_statistics(tmp_path):
    pixel = np.array([255, 128, 0], np.uint8)
    Image.fromarray(np.tile(pixel, (6, 10, 1))).save(tmp_path / "flat.png")
    batch = image_batch(tmp_path / "flat.png", (3, 5))
    assert batch.shape == (1, 3, 3, 5) and batch.dtype == np.float32
    expected = (pixel / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(batch[0, :, 1, 2], expected, rtol=1e-5)


def test_calibration_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"calibration folder .*missing"):
        list_images(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=f"no images .* found under '{tmp_path}'"):
        list_images(tmp_path)


def test_int8_runner_is_quantised_and_follows_fp32(small_model, camvid, tmp_path):
    pytest.importorskip("nncf")
    calibration = calibration_batches(camvid / "train", SIZE, count=8)
    assert len(calibration) == 8 and calibration[0].shape == (1, 3, *SIZE)
    with build_runner("openvino", small_model, precision="int8", calibration=calibration,
                      export={"size": SIZE, "dynamic": False}) as runner:
        assert runner.name.startswith("openvino int8") and is_quantized(runner.inner.model)
        for path in list_images(camvid / "val")[:2]:  # images it was not calibrated on
            image = torch.from_numpy(image_batch(path, SIZE))
            with torch.inference_mode():
                reference = small_model(image)
            logits = runner(image)
            assert logits.shape == reference.shape
            # untrained weights: logits follow fp32 closely but argmax near-ties flip; a broken quantisation
            # (ranges from the wrong statistics, a layout mix-up) loses the correlation
            assert np.corrcoef(reference.flatten().numpy(), logits.flatten().numpy())[0, 1] > 0.8


def test_int8_needs_a_quantised_model_and_the_openvino_backend(small_model, tmp_path):
    with pytest.raises(ValueError, match="int8 runs on the openvino backend"):
        check_precision("onnxruntime", "int8")
    plain = tmp_path / "plain.xml"
    export_model(small_model, plain, format="openvino", size=SIZE, check=False)
    with pytest.raises(ValueError, match="is not quantised: make an INT8 model with `alignseg export"):
        build_runner("openvino", plain, precision="int8")
    with pytest.raises(ValueError, match="calibration images are for the openvino backend with precision int8"):
        build_runner("openvino", plain, precision="bf16", calibration=[np.zeros((1, 3, *SIZE), np.float32)])
    with pytest.raises(ValueError, match=r"must end in \.xml"):
        quantize_openvino(plain, [np.zeros((1, 3, *SIZE), np.float32)], tmp_path / "model.onnx")


def test_export_int8_cli_writes_a_checked_quantised_ir(camvid, tmp_path, capsys):
    pytest.importorskip("nncf")
    out = tmp_path / "df1_int8.xml"
    code = main(["export", "sfnet_df1", "--random-init", "--format", "openvino", "--int8", "--calibration",
                 str(camvid / "val"), "--calibration-count", "6", "--check-count", "3", "--size", *map(str, SIZE),
                 "--min-agreement", "0",
                 "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and out.exists() and out.with_suffix(".bin").exists()
    assert "INT8: calibrating on 6 of 101 images" in printed and "max |diff| reported only" in printed
    assert printed.count("64x128  ") == 3 and "mean argmax agreement over 3 images" in printed
    import openvino as ov

    assert is_quantized(ov.Core().read_model(str(out)))
    from alignseg.predict import Predictor  # predict runs the INT8 IR as it is: no calibration folder needed

    predictor = Predictor.from_checkpoint(out, precision="int8")
    assert predictor.runner.name.startswith("openvino int8")
    assert predictor.predict(np.zeros((64, 96, 3), np.uint8)).label.shape == (64, 96)


def test_export_int8_argument_errors(camvid, tmp_path, capsys):
    base = ["export", "sfnet_df1", "--random-init", "--int8", "--size", *map(str, SIZE), "-o"]
    assert main([*base, str(tmp_path / "a.onnx")]) != 0
    assert "--int8 writes OpenVINO IR: add --format openvino" in capsys.readouterr().err
    assert main([*base, str(tmp_path / "a.xml"), "--format", "openvino"]) != 0
    assert "--int8 needs --calibration DIR" in capsys.readouterr().err
    assert main(["bench", "sfnet_df1", "--backend", "openvino", "--precision", "int8", "--size", "64", "128"]) != 0
    assert "--precision int8 needs --calibration DIR" in capsys.readouterr().err


def test_int8_export_is_judged_on_the_mean_agreement_and_fails_without_a_file(camvid, tmp_path, capsys):
    pytest.importorskip("nncf")
    out = tmp_path / "df1_int8.xml"
    code = main(["export", "sfnet_df1", "--random-init", "--format", "openvino", "--int8", "--calibration",
                 str(camvid / "val"), "--calibration-count", "4", "--check-count", "2", "--size", *map(str, SIZE),
                 "-o", str(out)])  # untrained weights: near-tie logits, far below the default 99.5%
    captured = capsys.readouterr()
    assert code == 1 and not out.exists() and not out.with_suffix(".bin").exists()
    assert "mean argmax agreement over 2 images" in captured.out and "FAILED" in captured.out
    assert "the INT8 export agrees with PyTorch on" in captured.err and "below 99.5%" in captured.err
