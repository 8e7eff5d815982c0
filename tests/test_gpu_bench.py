"""benchmarks/gpu_bench.py on a machine without a GPU: bad arguments and a missing CUDA device are clear errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_bench.py"


@pytest.fixture(scope="module")
def gpu_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_cover_the_issue_models_sizes_and_variants(gpu_bench):
    args = gpu_bench.parse_args([])
    assert args.models == ["sfnet_lite_r18", "sfnet_r18", "sfnet_stdc1", "sfnet_df2", "fapn_r18"]
    assert args.sizes == [(1024, 2048), (512, 1024)] and args.variants[0] == "eager-fp32"
    assert args.train_models == args.models
    assert gpu_bench.parse_args(["--sizes", "256X512", "--train-models"]).sizes == [(256, 512)]


@pytest.mark.parametrize(("argv", "message"), [
    (["--models", "sfnet_nope"], "--models: unknown model(s) sfnet_nope"),
    (["--train-models", "nope"], "--train-models: unknown model(s) nope"),
    (["--sizes", "1024"], "must look like HEIGHTxWIDTH"),
    (["--sizes", "1000x2048"], "positive multiples of 32"),
    (["--variants", "eager-fp16"], "must include eager-fp32"),
    (["--variants", "eager-fp32", "tensorrt"], "--variants: unknown tensorrt"),
    (["--iters", "0"], "--iters must be >= 1"),
    (["--warmup", "-1"], "--warmup must be >= 0"),
])
def test_bad_arguments_name_the_option(gpu_bench, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        gpu_bench.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_a_gpu_the_dry_run_says_no_cuda_device(gpu_bench):
    with pytest.raises(SystemExit, match="no CUDA device"):
        gpu_bench.main(["--dry-run"])


def test_markdown_tables_from_a_report(gpu_bench, tmp_path):
    """The report writer on a hand-made report: ratios to eager fp32, agreement, skipped and failed rows."""
    lat = {"median": 10.0, "p10": 9.0, "p90": 11.0, "min": 9.0, "runs": 5}
    report = {"command": "python benchmarks/gpu_bench.py", "warmup": 1, "iters": 5,
              "environment": {"torch": "x", "gpu": "Test GPU"},
              "inference": [
                  {"model": "m", "input_size": [64, 128], "variant": "eager-fp32", "latency_ms": lat, "fps": 100.0,
                   "parity": None},
                  {"model": "m", "input_size": [64, 128], "variant": "eager-fp16", "latency_ms": dict(lat, median=4.0),
                   "fps": 250.0, "parity": {"max_abs_diff": 0.01, "argmax_agreement": 0.999}},
                  {"model": "m", "input_size": [64, 128], "variant": "ort-trt-fp16", "error": "RuntimeError: no TRT"},
                  {"model": "m", "input_size": [64, 128], "variant": "compile-fp16-cl", "skipped": "time budget"}],
              "training": [{"model": "m", "config": "bf16-mixed", "batch": 2, "input_size": [64, 64],
                            "step_ms": lat, "images_per_s": 200.0, "peak_memory_gib": 1.5}]}
    text = gpu_bench.markdown(report)
    assert "| m | eager-fp16 | 4.00 | 9.00–11.00 | 250.0 | 2.50 | 99.900% | 1.0e-02 |" in text
    assert "failed: RuntimeError: no TRT" in text and "| m | compile-fp16-cl | time budget" in text
    assert "| m | bf16-mixed | 10.0 | 200.0 | 1.5 |" in text
    gpu_bench.write(report, tmp_path / "gpu.json")
    assert json.loads((tmp_path / "gpu.json").read_text()) == report and (tmp_path / "gpu.md").read_text() == text
