"""Runners behind one interface, and the missing-extra errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from alignseg.deploy.export import compare_logits, export_model
from alignseg.deploy.extras import require
from alignseg.deploy.loading import random_model
from alignseg.deploy.runtimes import build_runner, canonical_backend, check_precision


@pytest.fixture(scope="module")
def small_model():
    return random_model("sfnet_df1")


@pytest.fixture(scope="module")
def onnx_file(small_model, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    path = tmp_path_factory.mktemp("export") / "df1.onnx"
    export_model(small_model, path, size=(64, 128))
    return path


def _reference(model, image):
    with torch.inference_mode():
        return model(image)


def test_openvino_f32_runner_matches_pytorch(small_model, onnx_file):
    pytest.importorskip("openvino")
    image = torch.randn(1, 3, 96, 160)
    with build_runner("openvino", onnx_file, precision="fp32", threads=1) as runner:
        assert runner.name.startswith("openvino fp32") and runner.num_classes == 19
        diff, agreement = compare_logits(_reference(small_model, image), runner(image))
        assert diff < 1e-4 and agreement >= 0.999
        # a second shape compiles a second network; the first is kept
        assert runner(torch.randn(1, 3, 64, 96)).shape == (1, 19, 64, 96)
        assert len(runner.compiled) == 2


def test_onnxruntime_runner_from_file_and_from_model(small_model, onnx_file):
    image = torch.randn(1, 3, 70, 100)
    reference = _reference(small_model, image)
    with build_runner("ort", onnx_file, threads=1, optimization="basic") as runner:
        assert runner.num_classes == 19
        assert compare_logits(reference, runner(image))[0] < 1e-4
    with build_runner("onnxruntime", small_model, export={"size": (70, 100), "dynamic": False}) as runner:
        folder = runner.folder.name
        assert compare_logits(reference, runner(image))[0] < 1e-4
    assert not __import__("os").path.exists(folder), "the temporary export is removed on close"


def test_eager_runner_options(small_model):
    image = torch.randn(1, 3, 64, 96)
    reference = _reference(small_model, image)
    with build_runner("eager", small_model, channels_last=True, fold_bn=True) as runner:
        assert "channels_last" in runner.name and "bn-folded" in runner.name and runner.num_classes == 19
        assert compare_logits(reference, runner(image))[0] < 1e-4
    assert next(small_model.parameters()).is_contiguous(), "the caller's model keeps its memory format"
    with build_runner("eager", small_model, precision="bf16") as runner:
        logits = runner(image)
        assert logits.dtype == torch.float32 and logits.shape == reference.shape


def test_missing_extras_name_the_extra(monkeypatch, onnx_file):
    for module in ("onnxruntime", "openvino", "onnx"):
        monkeypatch.setitem(sys.modules, module, None)  # an import of it now fails
    with pytest.raises(ImportError, match=r"onnxruntime is not installed: pip install 'alignseg\[deploy\]'"):
        build_runner("onnxruntime", onnx_file)
    with pytest.raises(ImportError, match=r"openvino is not installed: pip install 'alignseg\[deploy\]'"):
        build_runner("openvino", onnx_file)
    with pytest.raises(ImportError, match=r"alignseg\[deploy\]"):
        require("onnx")
    monkeypatch.setitem(sys.modules, "nncf", None)
    monkeypatch.delitem(sys.modules, "openvino")  # openvino back, nncf still missing
    calibration = [torch.zeros(1, 3, 64, 128).numpy()]
    with pytest.raises(ImportError, match=r"^nncf is not installed: pip install 'alignseg\[int8\]'$"):
        build_runner("openvino", onnx_file, precision="int8", calibration=calibration)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"^matplotlib is not installed: pip install 'alignseg\[plot\]'$"):
        require("matplotlib", extra="plot")


def test_argument_validation(small_model, tmp_path):
    assert canonical_backend("ov") == "openvino" and canonical_backend("torch") == "eager"
    with pytest.raises(ValueError, match="unknown backend"):
        canonical_backend("tensorrt")
    with pytest.raises(ValueError, match="fp32 graph only"):
        check_precision("onnxruntime", "bf16")
    with pytest.raises(ValueError, match="unknown precision"):
        check_precision("eager", "int4")
    with pytest.raises(ValueError, match="CPU only"):
        check_precision("openvino", "fp32", device="cuda")
    with pytest.raises(FileNotFoundError, match="not found"):
        build_runner("onnxruntime", tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="runs a PyTorch model"):
        build_runner("eager", tmp_path / "model.onnx")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            build_runner("eager", small_model, device="cuda")
    with pytest.raises(ValueError, match="CUDA graphs need"):
        build_runner("eager", small_model, cuda_graphs=True)


def test_openvino_labels_are_the_argmax_of_its_logits_computed_in_the_graph(onnx_file):
    pytest.importorskip("openvino")
    image = torch.randn(2, 3, 64, 96)
    with build_runner("openvino", onnx_file, precision="fp32", threads=1) as runner:
        logits = runner(image)
        labels = runner.labels(image)
        assert labels.dtype == torch.uint8 and labels.shape == (2, 64, 96)
        assert torch.equal(labels.long(), logits.argmax(1))
        assert (tuple(image.shape), True) in runner.compiled  # a second network, with the TopK appended


def _identity_ir(tmp_path, classes: int):
    """An OpenVINO IR whose 'logits' are its input, to feed the class-id head chosen values."""
    ov = pytest.importorskip("openvino")
    from openvino import opset13 as ops

    image = ops.parameter([1, classes, 2, 3], np.float32, name="image")
    path = tmp_path / f"identity{classes}.xml"
    ov.save_model(ov.Model([ops.relu(image)], [image], "identity"), path)
    return path


def test_openvino_labels_break_ties_to_the_first_class_like_argmax(tmp_path):
    logits = torch.zeros(1, 4, 2, 3)
    logits[0, 2, 0, 0] = logits[0, 3, 0, 0] = 1.0  # a tie between classes 2 and 3
    logits[0, 1, 1, 2] = 5.0
    with build_runner("openvino", _identity_ir(tmp_path, 4), threads=1) as runner:
        labels = runner.labels(logits)
    assert labels.tolist() == [[[2, 0, 0], [0, 0, 1]]]  # all-zero pixels: class 0, as torch.argmax


def test_labels_of_more_than_256_classes_are_int64_on_every_runner(tmp_path):
    logits = torch.zeros(1, 300, 2, 3)
    logits[0, 299, 1, 1] = 1.0
    with build_runner("openvino", _identity_ir(tmp_path, 300), threads=1) as runner:
        labels = runner.labels(logits)
    assert labels.dtype == torch.int64 and labels[0, 1, 1] == 299 and labels.sum() == 299
    eager = build_runner("eager", torch.nn.Identity())
    assert eager.labels(logits).dtype == torch.int64 and torch.equal(eager.labels(logits), labels)
