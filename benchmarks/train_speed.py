#!/usr/bin/env python
"""Training speed on the CPU: images/s of the training step in four configurations (fp32 NCHW, fp32
channels-last, bf16-mixed NCHW, bf16-mixed channels-last) and, separately, of the data pipeline, at the
CamVid recipe of ``camvid_train.py`` (half resolution: images scaled by 0.5, 96×128 crops, batch 8).

The step is the engine's: ``SegmentationModule`` (model and criterion as ``alignseg train`` builds them,
``train.channels_last`` converting weights and batches), the config's optimiser, forward and loss under
``torch.autocast('cpu', bfloat16)`` for bf16-mixed (what Lightning's ``bf16-mixed`` does), backward and
step. It runs on a few CamVid batches prepared beforehand (cycled), so the loader's time is not in it.
The four configurations of a model are built together and timed round robin, one step each per round
(the starting one rotating), so a load change on a shared machine hits them alike. The data pipeline
(CamVid decoding, augmentation, collation with ``--workers`` worker counts) is timed on its own.

    python benchmarks/train_speed.py                                # ~3 min on 2 quiet cores
    python benchmarks/train_speed.py --models sfnet_lite_r18 --steps 2 --warmup 1     # a quicker look

Writes benchmarks/results/train_speed.json and .md. Whether bf16-mixed reaches fp32's mIoU at equal steps
is a training run (camvid_train.py --precision bf16-mixed --channels-last); the .md quotes its result
files when they are there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import camvid_train  # the CamVid recipe: one config builder for both benchmarks
from bench_report import write_report

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CONFIGS = (("32-true", False), ("32-true", True), ("bf16-mixed", False), ("bf16-mixed", True))
# The equal-steps mIoU comparison (camvid_train.py, same recipe and seed): fp32 NCHW vs bf16-mixed channels-last.
MIOU_RUNS = (
    ("fp32 NCHW", "camvid_train_sfnet_r18_10ep", ""),
    ("bf16-mixed channels-last", "camvid_train_sfnet_r18_10ep_bf16_cl", " --precision bf16-mixed --channels-last"),
)
MIOU_COMMAND = ("python benchmarks/camvid_train.py --models sfnet_r18 --epochs 10 --threads 1 --workers 1{flags} "
                "--runs runs/trained{runs} --output benchmarks/results/{stem}.md")


def label(precision: str, channels_last: bool) -> str:
    return f"{'fp32' if precision == '32-true' else precision} {'channels-last' if channels_last else 'NCHW'}"


def recipe(args: argparse.Namespace, model: str, precision: str, channels_last: bool, workers: int):
    """The camvid_train.py config of ``model`` (its own defaults) with this precision, memory format, batch
    and loader workers."""
    namespace = camvid_train.parse_args([
        "--root", str(args.root), "--crop", *map(str, args.crop), "--batch-size", str(args.batch_size),
        "--workers", str(workers), "--epochs", "1", "--precision", precision,
        "--runs", "/tmp/alignseg-train-speed", *(["--channels-last"] if channels_last else [])])
    namespace.threads = None  # the step runs in this process, with the threads set by --threads
    return camvid_train.build_config(namespace, model)


def time_data(config, batches: int) -> dict:
    """Images/s of the train loader over ``batches`` batches after its first two (worker start-up and the
    prefetch queue filling are not the pipeline's steady state)."""
    from alignseg.engine.module import SegmentationDataModule

    iterator = iter(SegmentationDataModule(config).train_dataloader())
    next(iterator), next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - start
    images = batches * config.data.batch_size
    return {"workers": config.data.workers, "batches": batches, "images": images, "seconds": seconds,
            "images_per_s": images / seconds}


def sample_batches(config, count: int) -> list[dict]:
    """``count`` training batches of the CamVid recipe (loaded in this process), for the step timing."""
    from alignseg.engine.module import SegmentationDataModule

    return list(itertools.islice(SegmentationDataModule(config).train_dataloader(), count))


def training_step(config, batches: list[dict]):
    """A fresh model, criterion and optimiser for ``config``; returns a function running one training step
    (forward and loss under autocast for bf16-mixed, backward, optimiser step) on the next batch."""
    from alignseg.engine.module import SegmentationModule
    from alignseg.engine.optim import build_optimizer

    torch.manual_seed(config.train.seed)
    module = SegmentationModule(config, class_names=[str(i) for i in range(11)], palette=[[0, 0, 0]] * 11)
    model, criterion = module.model.train(), module.criterion
    optimizer = build_optimizer(model, config.optim)
    bf16 = config.train.precision == "bf16-mixed"
    prepared = itertools.cycle([module.on_after_batch_transfer(dict(batch), 0) for batch in batches])

    def step() -> float:
        batch = next(prepared)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = criterion(model(batch["image"]), batch["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss is {loss.item()}")
        return loss.item()
    return step


def time_round_robin(steps: dict[str, object], rounds: int, warmup: int) -> dict[str, list[float]]:
    """Seconds of each step function over ``rounds`` rounds (after ``warmup`` untimed ones), one call of each
    per round, the first one rotating."""
    names = list(steps)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            steps[name]()
            if index >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def profile_steps(steps: dict[str, object], rounds: int) -> dict[str, dict[str, float]]:
    """Self CPU milliseconds per step of every operator, per configuration (torch.profiler, ``rounds`` steps each,
    round robin)."""
    from torch.profiler import ProfilerActivity, profile

    totals: dict[str, dict[str, float]] = {name: {} for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            with profile(activities=[ProfilerActivity.CPU]) as profiler:
                step()
            for event in profiler.key_averages():
                ops = totals[name]
                ops[event.key] = ops.get(event.key, 0.0) + event.self_cpu_time_total / 1000 / rounds
    return totals


def profile_table(model: str, totals: dict[str, dict[str, float]], top: int = 15) -> list[str]:
    """Markdown rows: the ``top`` operators by summed self time, ms per step in each configuration."""
    names = list(totals)
    summed: dict[str, float] = {}
    for ops in totals.values():
        for op, ms in ops.items():
            summed[op] = summed.get(op, 0.0) + ms
    lines = [f"| {model}: operator (self CPU ms/step) | " + " | ".join(names) + " |",
             "|---" + "|---:" * len(names) + "|",
             "| all operators | " + " | ".join(f"{sum(totals[n].values()):.0f}" for n in names) + " |"]
    for op in sorted(summed, key=summed.get, reverse=True)[:top]:
        lines.append(f"| {op} | " + " | ".join(f"{totals[n].get(op, 0.0):.1f}" for n in names) + " |")
    return lines


def miou_results() -> list[dict]:
    """The equal-steps mIoU runs' summaries, from their result files where present."""
    import json

    rows = []
    for name, stem, _ in MIOU_RUNS:
        path = RESULTS / f"{stem}.json"
        if path.is_file():
            record = json.loads(path.read_text())
            for result in record["results"]:
                rows.append({"configuration": name, "file": f"benchmarks/results/{stem}.md",
                             "model": result["model"], "iterations": result["iterations"],
                             "final_miou": result["final_miou"], "best_miou": result["best_miou"],
                             "wall_s": result["seconds"]})
    return rows


def markdown(report: dict) -> str:
    load, machine = report["load_average"], report["machine"]
    busy = load["start"][0] > machine["cpus"]  # more runnable work than cores before this run added its own
    lines = [
        "# Training speed on the CPU (CamVid recipe, half resolution)", "",
        f"Command: `{report['command']}`", "",
        f"Machine: {machine['cpu']}, {machine['cpus']} CPUs ({', '.join(machine['cpu_flags']) or 'no AMX/AVX-512'}), "
        f"torch {machine['torch']}, {machine['threads']} torch thread(s). Load average (1 min) at start "
        f"{load['start'][0]:.1f}, end {load['end'][0]:.1f}. "
        + ("**Measured on a busy machine — rerun on a quiet one**; the configurations were timed round robin, so "
           "their ratios are the useful part." if busy else "Quiet machine."),
        "",
        f"Training step: batch {report['batch_size']} of {report['crop'][0]}×{report['crop'][1]} crops (CamVid "
        "images scaled by 0.5), forward + loss + backward + AdamW on batches prepared beforehand (no loader); "
        f"the four configurations of a model timed round robin, {report['steps']} rounds after "
        f"{report['warmup']} warm-up; median step.", "",
        "| model | configuration | step median s | step min s | images/s | × fp32 NCHW |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in report["steps_results"]:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['configuration']} | failed: {r['error'][:80]} | | | |")
            continue
        base = next((b for b in report["steps_results"] if b["model"] == r["model"] and "error" not in b
                     and b["configuration"] == "fp32 NCHW"), None)
        ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}" if base else "-"
        lines.append(f"| {r['model']} | {r['configuration']} | {r['median_s']:.3f} | {r['min_s']:.3f} | "
                     f"{r['images_per_s']:.2f} | {ratio} |")
    lines += ["", "Data pipeline alone (the train loader: CamVid decoding, scale/crop/flip/colour-jitter augmentation, "
              "collation; no model):", "",
              "| workers | images/s | images timed |", "|---:|---:|---:|"]
    lines += [f"| {d['workers']} | {d['images_per_s']:.1f} | {d['images']} in {d['seconds']:.1f} s |"
              for d in report["data"]]
    if report.get("profiles"):
        lines += ["", "## Where a step's time goes (torch.profiler, self CPU time, mean over the profiled steps)", ""]
        for model, totals in report["profiles"].items():
            lines += [*profile_table(model, totals), ""]
    lines += ["", "## bf16-mixed vs fp32 at equal steps (CamVid val mIoU)", ""]
    if report["miou"]:
        lines += ["| configuration | model | iterations | final val mIoU | best val mIoU | train+val wall | result |",
                  "|---|---|---:|---:|---:|---:|---|"]
        lines += [f"| {m['configuration']} | {m['model']} | {m['iterations']} | {100 * m['final_miou']:.2f} | "
                  f"{100 * m['best_miou']:.2f} | {m['wall_s'] / 60:.1f} min | {m['file']} |" for m in report["miou"]]
    else:
        lines.append("Not run yet.")
    lines += ["", "The runs (same recipe, seed and data order; wall times there are from a shared machine):", ""]
    lines += ["    " + MIOU_COMMAND.format(flags=flags, runs="_bf16" if flags else "", stem=stem)
              for _, stem, flags in MIOU_RUNS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=camvid_train.DEFAULT_ROOT)
    parser.add_argument("--models", nargs="+", default=["sfnet_r18", "sfnet_lite_r18"])
    parser.add_argument("--crop", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2],
                        help="data loader worker counts for the pipeline timing (0: in the main process)")
    parser.add_argument("--steps", type=int, default=8, help="timed rounds (one step per configuration each)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (oneDNN primitive creation)")
    parser.add_argument("--data-batches", type=int, default=20, help="batches timed for the data pipeline")
    parser.add_argument("--profile", type=int, default=0, metavar="STEPS",
                        help="also profile STEPS steps per configuration (torch.profiler): top operators' self time")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's, the cores; on a busy machine 1 wastes less)")
    parser.add_argument("--out", type=Path, default=RESULTS / "train_speed.json")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.data_batches < 1 or args.batch_size < 1 or min(args.workers) < 0:
        parser.error("--steps, --data-batches and --batch-size must be >= 1, --warmup and --workers >= 0")
    if not (args.root / "images").is_dir():
        parser.error(f"CamVid not found at {args.root} (give --root DIR)")
    from alignseg.deploy.bench import environment

    if args.threads:
        torch.set_num_threads(args.threads)
    start_load = list(os.getloadavg())
    data = []
    for workers in args.workers:
        data.append(time_data(recipe(args, args.models[0], "32-true", False, workers), args.data_batches))
        print(f"data pipeline, {workers} worker(s): {data[-1]['images_per_s']:.1f} images/s", flush=True)
    batches = sample_batches(recipe(args, args.models[0], "32-true", False, 0), 3)
    results, profiles = [], {}
    for model in args.models:
        steps, rows = {}, {}
        for precision, channels_last in CONFIGS:
            name = label(precision, channels_last)
            rows[name] = {"model": model, "configuration": name, "precision": precision,
                          "channels_last": channels_last}
            try:
                steps[name] = training_step(recipe(args, model, precision, channels_last, 0), batches)
            except Exception as error:  # one configuration failing must not lose the table
                rows[name]["error"] = f"{type(error).__name__}: {error}"
        try:
            times = time_round_robin(steps, args.steps, args.warmup)
            if args.profile:
                profiles[model] = profile_steps(steps, args.profile)
        except Exception as error:
            times = {}
            for name in steps:
                rows[name]["error"] = f"{type(error).__name__}: {error}"
        for name, seconds in times.items():
            median = statistics.median(seconds)
            rows[name].update({"steps": len(seconds), "median_s": median, "min_s": min(seconds),
                               "images_per_s": args.batch_size / median})
        for row in rows.values():
            results.append(row)
            print(f"{model:16s} {row['configuration']:26s} "
                  + (row["error"] if "error" in row else f"{row['median_s']:.3f} s/step  {row['images_per_s']:.2f} "
                     f"images/s"), flush=True)
    env = environment()
    report = {"command": " ".join(["python benchmarks/train_speed.py", *(argv if argv is not None else sys.argv[1:])]),
              "machine": {"cpu": env["cpu"], "cpus": env["cpu_count"], "threads": env["threads"],
                          "torch": env["torch"], "cpu_flags": env["cpu_flags"]},
              "load_average": {"start": start_load, "end": list(os.getloadavg())},
              "batch_size": args.batch_size, "crop": list(args.crop), "steps": args.steps, "warmup": args.warmup,
              "data": data, "steps_results": results, "miou": miou_results(), "profiles": profiles,
              "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    md = markdown(report)
    print("\n" + md + f"wrote {args.out} and {write_report(report, args.out, md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
