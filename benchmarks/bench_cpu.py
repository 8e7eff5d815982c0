"""CPU speed table: every zoo model on every CPU runtime, with ratios to eager fp32 PyTorch from the same run.

Two parts:
1. key models (default sfnet_r18, sfnet_lite_r18) at 1024x2048, the papers' input, on every CPU runtime:
   eager fp32, eager fp32/bf16 channels-last, torch.compile fp32/bf16 (Inductor with freezing; first key
   model only unless --compile-all: compiling takes about a minute per model and precision on 2 cores),
   ONNX Runtime fp32, OpenVINO f32, bf16 and INT8 (NNCF, calibrated on --calibration images);
2. the whole zoo at a smaller size (default 512x1024) on eager fp32, ONNX Runtime fp32, OpenVINO f32/bf16/INT8.

Each model is exported once (static shape, BatchNorm folded) and every runtime is compared with eager fp32
on the same image (max |diff|, argmax agreement): a real image beside the --calibration folder (CamVid val
or test) when there is one, else a seeded torch.randn. Fresh weights unless --weights NAME=PATH is given;
argmax agreement of an untrained network is a weak test (its logits are near ties), see RESULTS.md; for a
trained model's accuracy see cpu_accuracy.py.

    python benchmarks/bench_cpu.py                          # ~15-20 min on 2 cores
    python benchmarks/bench_cpu.py --quick                  # smoke run: tiny sizes, 1 run
    python benchmarks/bench_cpu.py --pattern 'sfnet_*' --zoo-size 256 512

Writes benchmarks/results/cpu.json (a list of `alignseg bench` records, schema in alignseg/deploy/bench.py)
and prints markdown tables (also written to benchmarks/results/cpu_tables.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import alignseg
from alignseg.deploy.bench import benchmark, complexity, write_json
from alignseg.deploy.loading import random_model
from alignseg.deploy.onnx_graph import export_onnx, prepare_for_export
from alignseg.models.factory import load_model

KEY_BACKENDS = [  # (label, backend, precision, options)
    ("eager fp32", "eager", "fp32", {}),
    ("eager fp32 channels-last", "eager", "fp32", {"channels_last": True}),
    ("eager bf16 channels-last", "eager", "bf16", {"channels_last": True}),
    ("compile fp32", "compile", "fp32", {}),
    ("compile bf16", "compile", "bf16", {"channels_last": True}),
    ("onnxruntime fp32", "onnxruntime", "fp32", {}),
    ("openvino f32", "openvino", "fp32", {}),
    ("openvino bf16", "openvino", "bf16", {}),
    ("openvino int8", "openvino", "int8", {}),
]
ZOO_BACKENDS = [KEY_BACKENDS[0], KEY_BACKENDS[5], KEY_BACKENDS[6], KEY_BACKENDS[7], KEY_BACKENDS[8]]
DEFAULT_CALIBRATION = Path(os.environ.get("ALIGNSEG_SHARED", Path(__file__).resolve().parents[2] / "shared")) / \
    "data" / "camvid" / "images" / "train"


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def run_model(name: str, size: tuple[int, int], backends, *, runs: int, warmup: int, weights: str | None,
              log, calibration=None, image=None) -> list[dict]:
    """Benchmark one model on ``backends`` (eager fp32 first: it gives the reference logits)."""
    model = load_model(weights, model=name)[0] if weights else random_model(name)
    counts = complexity(model, size)
    records = []
    reference = None
    with tempfile.TemporaryDirectory(prefix="alignseg-bench-") as folder:
        exported = None
        for label, backend, precision, options in backends:
            if backend in ("onnxruntime", "openvino") and exported is None:
                exported = export_onnx(prepare_for_export(model), Path(folder) / f"{name}.onnx", size=size,
                                       dynamic=False)
            start = time.perf_counter()
            try:
                record, logits = benchmark(
                    model, name=name, size=size, backend=backend, precision=precision, runs=runs, warmup=warmup,
                    options=options, reference=reference, exported=exported, counts=counts, weights=weights,
                    return_logits=True, calibration=calibration if precision == "int8" else None,
                    image=None if image is None else image[1], image_label=None if image is None else image[0],
                )
            except Exception as exc:  # one runtime failing must not lose the rest of the table
                log(f"  {label:26s} FAILED: {type(exc).__name__}: {str(exc)[:300]}")
                records.append({"model": name, "label": label, "input_size": list(size), "error": str(exc)})
                continue
            if reference is None:
                reference = logits
            record["label"] = label
            records.append(record)
            parity = record["parity"] or {"argmax_agreement": 1.0, "max_abs_diff": 0.0}
            log(f"  {label:26s} median {record['latency_ms']['median']:9.1f} ms  p10 {record['latency_ms']['p10']:9.1f}"
                f"  p90 {record['latency_ms']['p90']:9.1f}  agreement {100 * parity['argmax_agreement']:8.4f}%  "
                f"max|diff| {parity['max_abs_diff']:.2e}  ({time.perf_counter() - start:.0f} s, load {load_average()})")
    return records


def real_inputs(folder: Path, size: tuple[int, int], count: int, log):
    """INT8 calibration batches from ``folder`` and one real image of the folder's parent it does not hold
    (e.g. CamVid val/test beside train/), both at ``size``; the image is what every runtime is compared on."""
    from alignseg.deploy.quantize import calibration_batches, image_batch, list_images

    calibration = calibration_batches(folder, size, count)
    log(f"INT8 rows at {size[0]}x{size[1]} calibrated on {len(calibration)} images of {folder}")
    others = sorted(set(list_images(folder.parent)) - set(list_images(folder)))
    if not others:
        return calibration, None
    image = (f"{others[0].name} resized to {size[0]}x{size[1]}", torch.from_numpy(image_batch(others[0], size)))
    log(f"models at {size[0]}x{size[1]} run on {image[0]}")
    return calibration, image


def markdown(records: list[dict], title: str) -> str:
    """One table per input size: latency, FPS, ratio to eager fp32 of the same model and run, agreement."""
    lines = [f"### {title}", "",
             "| model | size | GMACs | runtime | median ms | p10-p90 ms | FPS | × eager fp32 | argmax agreement | "
             "max abs diff |", "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    eager = {(r["model"], tuple(r["input_size"])): r["latency_ms"]["median"]
             for r in records if r.get("label") == "eager fp32" and "latency_ms" in r}
    for r in records:
        size = "x".join(map(str, r["input_size"]))
        if "error" in r:
            lines.append(f"| {r['model']} | {size} | | {r['label']} | failed: {r['error'][:60]} | | | | | |")
            continue
        lat = r["latency_ms"]
        base = eager.get((r["model"], tuple(r["input_size"])))
        ratio = f"{base / lat['median']:.2f}" if base else "-"
        parity = r["parity"]
        agreement = "reference" if parity is None else f"{100 * parity['argmax_agreement']:.3f}%"
        diff = "-" if parity is None else f"{parity['max_abs_diff']:.1e}"
        lines.append(f"| {r['model']} | {size} | {r['gmacs']:.1f} | {r['label']} | {lat['median']:.0f} | "
                     f"{lat['p10']:.0f}-{lat['p90']:.0f} | {r['fps']:.2f} | {ratio} | {agreement} | {diff} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key-models", nargs="*", default=["sfnet_r18", "sfnet_lite_r18"])
    parser.add_argument("--key-size", type=int, nargs=2, default=(1024, 2048))
    parser.add_argument("--key-runs", type=int, default=5)
    parser.add_argument("--pattern", default="*", help="zoo models of part 2 (shell pattern); '' skips part 2")
    parser.add_argument("--zoo-size", type=int, nargs=2, default=(512, 1024))
    parser.add_argument("--zoo-runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed forwards after the first call")
    parser.add_argument("--compile-all", action="store_true", help="torch.compile every key model, not the first")
    parser.add_argument("--weights", action="append", default=[], metavar="NAME=PATH", help="trained checkpoints")
    parser.add_argument("--out", default="benchmarks/results/cpu.json")
    parser.add_argument("--calibration", type=Path, default=DEFAULT_CALIBRATION,
                        help="images for the INT8 row (default: CamVid train images in ../shared); absent: no INT8")
    parser.add_argument("--calibration-count", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="smoke run: 128x256 / 64x128, 1 run, 2 models")
    args = parser.parse_args(argv)
    if args.quick:
        args.key_size, args.zoo_size, args.key_runs, args.zoo_runs, args.warmup = (128, 256), (64, 128), 1, 1, 0
        args.key_models, args.pattern = args.key_models[:1], "sfnet_df1"
    weights = dict(item.split("=", 1) for item in args.weights)
    out = Path(args.out)
    log_lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        log_lines.append(line)

    cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True, text=True).stdout.strip()
    log(f"alignseg {alignseg.__version__}, torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs, {cpu}; load average at start {load_average()}")
    started = time.perf_counter()
    key_records: list[dict] = []
    key_inputs = zoo_inputs = (None, None)
    if args.calibration.is_dir():
        key_inputs = real_inputs(args.calibration, tuple(args.key_size), args.calibration_count, log)
        if args.pattern:
            zoo_inputs = real_inputs(args.calibration, tuple(args.zoo_size), args.calibration_count, log)
    else:
        log(f"no calibration folder {args.calibration}: INT8 rows skipped, runtimes compared on torch.randn")
    calibration, key_image = key_inputs
    for index, name in enumerate(args.key_models):
        backends = [b for b in KEY_BACKENDS if (b[1] != "compile" or index == 0 or args.compile_all)
                    and (b[2] != "int8" or calibration is not None)]
        log(f"{name} at {args.key_size[0]}x{args.key_size[1]} ({args.key_runs} runs after {args.warmup} warm-up)")
        key_records += run_model(name, tuple(args.key_size), backends, runs=args.key_runs, warmup=args.warmup,
                                 weights=weights.get(name), log=log, calibration=calibration, image=key_image)
        write_json(key_records, out)
    zoo_records: list[dict] = []
    for name in alignseg.list_models(args.pattern) if args.pattern else []:
        log(f"{name} at {args.zoo_size[0]}x{args.zoo_size[1]} ({args.zoo_runs} runs after {args.warmup} warm-up)")
        backends = [b for b in ZOO_BACKENDS if b[2] != "int8" or zoo_inputs[0] is not None]
        zoo_records += run_model(name, tuple(args.zoo_size), backends, runs=args.zoo_runs, warmup=args.warmup,
                                 weights=weights.get(name), log=log, calibration=zoo_inputs[0], image=zoo_inputs[1])
        write_json(key_records + zoo_records, out)
    log(f"done in {(time.perf_counter() - started) / 60:.1f} min; load average at the end {load_average()}")
    tables = markdown(key_records, f"Key models at {args.key_size[0]}x{args.key_size[1]}")
    if zoo_records:
        tables += "\n" + markdown(zoo_records, f"Zoo at {args.zoo_size[0]}x{args.zoo_size[1]}")
    print("\n" + tables)
    out.with_name(out.stem + "_tables.md").write_text(tables + "\n```\n" + "\n".join(log_lines) + "\n```\n")
    print(f"wrote {out} and {out.with_name(out.stem + '_tables.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
