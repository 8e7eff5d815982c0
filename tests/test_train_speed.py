"""benchmarks/train_speed.py without timing anything real: round-robin order, the recipe it builds, its table."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_speed.py"


@pytest.fixture(scope="module")
def train_speed():
    spec = importlib.util.spec_from_file_location("train_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts benchmarks/ on sys.path for camvid_train, as when run
    return module


def test_round_robin_times_every_configuration_each_round_with_a_rotating_start(train_speed):
    calls: list[str] = []
    steps = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = train_speed.time_round_robin(steps, rounds=2, warmup=1)
    assert calls == list("abc" "bca" "cab")
    assert {name: len(seconds) for name, seconds in times.items()} == {"a": 2, "b": 2, "c": 2}


def test_recipe_is_camvid_train_with_this_precision_layout_and_workers(train_speed, tmp_path):
    args = argparse.Namespace(root=tmp_path, crop=[64, 96], batch_size=4)
    config = train_speed.recipe(args, "sfnet_lite_r18", "bf16-mixed", True, 2)
    assert (config.train.precision, config.train.channels_last, config.data.workers) == ("bf16-mixed", True, 2)
    assert (config.data.batch_size, list(config.data.crop_size), config.model.name) == (4, [64, 96], "sfnet_lite_r18")
    assert list(config.data.scale_range) == [0.375, 0.625]  # camvid_train's 0.75..1.25 at image scale 0.5


def test_table_gives_images_per_s_and_ratio_per_configuration(train_speed):
    rows = [{"model": "m", "configuration": train_speed.label(p, cl), "median_s": s, "min_s": s,
             "images_per_s": 8 / s} for (p, cl), s in zip(train_speed.CONFIGS, [2.0, 2.0, 1.0, 0.5], strict=True)]
    rows.append({"model": "m2", "configuration": "fp32 NCHW", "error": "RuntimeError: boom"})
    report = {"command": "c", "machine": {"cpu": "cpu", "cpus": 2, "threads": 2, "torch": "t", "cpu_flags": []},
              "load_average": {"start": [0.1], "end": [0.2]}, "batch_size": 8, "crop": [96, 128], "steps": 3,
              "warmup": 1, "data": [{"workers": 1, "images_per_s": 50.0, "images": 80, "seconds": 1.6}],
              "steps_results": rows, "miou": []}
    table = train_speed.markdown(report)
    assert "| m | bf16-mixed channels-last | 0.500 | 0.500 | 16.00 | 4.00 |" in table
    assert "| m | fp32 NCHW | 2.000 | 2.000 | 4.00 | 1.00 |" in table
    assert "| m2 | fp32 NCHW | failed: RuntimeError: boom |" in table
    assert "Quiet machine" in table and "| 1 | 50.0 |" in table


def test_profile_table_ranks_operators_by_summed_self_time(train_speed):
    totals = {"fp32 NCHW": {"aten::conv": 10.0, "aten::copy_": 1.0},
              "bf16-mixed channels-last": {"aten::conv": 4.0, "aten::copy_": 3.0, "aten::add": 0.5}}
    lines = train_speed.profile_table("m", totals, top=2)
    assert lines[0] == "| m: operator (self CPU ms/step) | fp32 NCHW | bf16-mixed channels-last |"
    assert lines[2:] == ["| all operators | 11 | 8 |", "| aten::conv | 10.0 | 4.0 |", "| aten::copy_ | 1.0 | 3.0 |"]
