"""The benchmark: JSON schema, statistics, and argument validation (GPU paths are validated, not run)."""

from __future__ import annotations

import json

import pytest
import torch

from alignseg.cli import main
from alignseg.deploy.bench import (
    LATENCY_KEYS,
    RECORD_KEYS,
    SCHEMA_VERSION,
    Latency,
    benchmark,
    validate_options,
    validate_record,
)
from alignseg.deploy.loading import random_model

TYPES = {
    "schema_version": int, "model": str, "weights": str, "input_size": list, "batch": int, "backend": str,
    "runner": str, "precision": str, "device": str, "options": dict, "params": int, "params_used": int,
    "gmacs": float, "mac_convention": str, "latency_ms": dict, "fps": float, "setup_s": float,
    "first_call_ms": float, "environment": dict, "timestamp": str,
}


def _check_types(record):
    validate_record(record)
    assert set(record) == set(RECORD_KEYS)
    for key, kind in TYPES.items():
        assert isinstance(record[key], kind), (key, type(record[key]))
    assert record["schema_version"] == SCHEMA_VERSION
    assert all(isinstance(record["latency_ms"][k], (int, float)) for k in LATENCY_KEYS)
    assert record["latency_ms"]["runs"] == 2
    assert {"torch", "cpu", "threads", "cpu_count"} <= set(record["environment"])
    assert "1 MAC = 2 FLOPs" in record["mac_convention"]


def test_cli_bench_writes_a_valid_record(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "sfnet_lite_r18", "--size", "64", "128", "--runs", "2", "--warmup", "1",
                 "--output", str(out)]) == 0
    record = json.loads(out.read_text())
    _check_types(record)
    assert record["input_size"] == [64, 128] and record["backend"] == "eager" and record["parity"] is None
    assert record["weights"] == "random-init" and record["params"] == record["params_used"] > 0
    printed = capsys.readouterr().out
    assert "median" in printed and "GMACs" in printed and "FPS" in printed


def test_non_eager_backend_reports_parity():
    pytest.importorskip("onnxruntime")
    model = random_model("sfnet_df1")
    record = benchmark(model, name="sfnet_df1", size=(64, 128), backend="onnxruntime", runs=2, warmup=1, threads=1)
    _check_types(record)
    json.dumps(record)  # serialisable as it is
    assert record["parity"]["max_abs_diff"] < 1e-4 and record["parity"]["argmax_agreement"] > 0.999
    assert record["params"] > record["params_used"], "sfnet_df1's train-only heads are counted in params only"


def test_fapn_macs_follow_include_deform():
    model = random_model("fapn_r18")
    kwargs = dict(name="fapn_r18", size=(64, 64), runs=1, warmup=0)
    without = benchmark(model, **kwargs)
    with_deform = benchmark(model, include_deform=True, **kwargs)
    assert with_deform["gmacs"] > without["gmacs"]
    assert "excluded" in without["mac_convention"] and "included" in with_deform["mac_convention"]


def test_latency_statistics():
    stats = Latency.from_times([5.0, 1.0, 3.0, 2.0, 4.0], warmup=2)
    assert (stats.median, stats.min, stats.runs, stats.warmup) == (3.0, 1.0, 5, 2)
    assert stats.p10 == pytest.approx(1.4) and stats.p90 == pytest.approx(4.6)


def test_option_validation_without_a_gpu():
    assert validate_options("eager", "fp32", "cpu", compile=True) == "compile"
    with pytest.raises(ValueError, match="--compile applies"):
        validate_options("onnxruntime", "fp32", "cpu", compile=True)
    with pytest.raises(ValueError, match="--cuda-graphs needs --device cuda"):
        validate_options("eager", "fp32", "cpu", cuda_graphs=True)
    with pytest.raises(ValueError, match="unknown device"):
        validate_options("eager", "fp32", "tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            validate_options("eager", "fp16", "cuda")


def test_cli_bench_rejects_bad_arguments(capsys):
    assert main(["bench", "sfnet_r18", "--backend", "onnxruntime", "--precision", "bf16"]) == 2
    assert "fp32 graph only" in capsys.readouterr().err
    assert main(["bench", "sfnet_r18", "--cuda-graphs"]) == 2
    assert main(["bench", "sfnet_r18", "--runs", "0"]) == 2


def test_cli_bench_labels_times_the_class_ids_and_checks_their_agreement(tmp_path, capsys):
    pytest.importorskip("openvino")
    out = tmp_path / "labels.json"
    assert main(["bench", "sfnet_df1", "--size", "64", "128", "--runs", "2", "--warmup", "1", "--backend",
                 "openvino", "--labels", "--output", str(out)]) == 0
    record = json.loads(out.read_text())
    validate_record(record)
    assert record["output"] == "class ids" and record["parity"]["max_abs_diff"] is None
    assert record["parity"]["argmax_agreement"] > 0.999  # fp32 OpenVINO: the same arg-max as eager fp32
    assert "class ids out" in capsys.readouterr().out
