#!/usr/bin/env python
"""Training speed on the CPU: images/s of the training step (fp32 vs bf16-mixed, NCHW vs channels-last) and,
separately, of the data pipeline, at the CamVid recipe of ``camvid_train.py`` (half resolution: images
scaled by 0.5, 96×128 crops, batch 8).

The step is the engine's: ``SegmentationModule`` (model and criterion as ``alignseg train`` builds them,
``train.channels_last`` converting weights and batches), the config's optimiser, forward and loss under
``torch.autocast('cpu', bfloat16)`` for bf16-mixed (what Lightning's ``bf16-mixed`` does), backward and
step. It runs on a few batches prepared beforehand (cycled), so the loader's time is not in it; the data
pipeline (CamVid decoding, augmentation, collation with ``data.workers`` workers) is timed on its own.

    python benchmarks/train_speed.py                                # ~5 min on 2 quiet cores
    python benchmarks/train_speed.py --models sfnet_lite_r18 --steps 2 --warmup 1     # a quicker look

Writes benchmarks/results/train_speed.json and .md. Whether bf16-mixed reaches fp32's mIoU at equal steps
is a training run, not a speed run (the .md names the command: camvid_train.py --precision bf16-mixed).
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
CONFIGS = (("32-true", False), ("32-true", True), ("bf16-mixed", False), ("bf16-mixed", True))
MIOU_COMMAND = ("python benchmarks/camvid_train.py --models sfnet_r18 --epochs 10 --precision {precision} "
                "--channels-last --output benchmarks/results/camvid_train_sfnet_r18_{tag}.md")


def recipe(args: argparse.Namespace, model: str, precision: str, channels_last: bool):
    """The camvid_train.py config of ``model`` (its own defaults) with this precision, memory format and batch."""
    namespace = camvid_train.parse_args([
        "--root", str(args.root), "--crop", *map(str, args.crop), "--batch-size", str(args.batch_size),
        "--workers", str(args.workers), "--epochs", "1", "--precision", precision,
        "--runs", "/tmp/alignseg-train-speed", *(["--channels-last"] if channels_last else [])])
    namespace.threads = None  # the step runs in this process, with the threads set by --threads
    return camvid_train.build_config(namespace, model)


def time_data(config, batches: int) -> tuple[dict, list[dict]]:
    """Images/s of the train loader over ``batches`` batches after its first one; also returns the batches."""
    from alignseg.engine.module import SegmentationDataModule

    loader = SegmentationDataModule(config).train_dataloader()
    iterator = iter(loader)
    first = next(iterator)  # worker start-up and the sampler's index are not the pipeline's steady state
    start = time.perf_counter()
    kept = [first] + [next(iterator) for _ in range(batches)]
    seconds = time.perf_counter() - start
    images = batches * config.data.batch_size
    return {"batches": batches, "images": images, "seconds": seconds, "images_per_s": images / seconds,
            "workers": config.data.workers}, kept


def time_steps(config, batches: list[dict], steps: int, warmup: int) -> dict:
    """Seconds of each training step (forward, loss, backward, optimiser) on the prepared ``batches``."""
    from alignseg.engine.module import SegmentationModule
    from alignseg.engine.optim import build_optimizer

    module = SegmentationModule(config, class_names=[str(i) for i in range(11)], palette=[[0, 0, 0]] * 11)
    model, criterion = module.model.train(), module.criterion
    optimizer = build_optimizer(model, config.optim)
    bf16 = config.train.precision == "bf16-mixed"
    times = []
    for index, batch in zip(range(warmup + steps), itertools.cycle(batches), strict=False):
        batch = module.on_after_batch_transfer(dict(batch), 0)
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = criterion(model(batch["image"]), batch["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if index >= warmup:
            times.append(time.perf_counter() - start)
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss is {loss.item()} at step {index}")
    median = statistics.median(times)
    size = config.data.batch_size
    return {"steps": steps, "warmup": warmup, "median_s": median, "min_s": min(times),
            "images_per_s": size / median, "last_loss": loss.item()}


def markdown(report: dict) -> str:
    load = report["load_average"]
    busy = max(load["start"][0], load["end"][0]) > 0.5 * report["machine"]["cpus"]
    lines = [
        "# Training speed on the CPU (CamVid recipe, half resolution)", "",
        f"Command: `{report['command']}`", "",
        f"Machine: {report['machine']['cpu']}, {report['machine']['cpus']} CPUs, torch {report['machine']['torch']} "
        f"({report['machine']['threads']} threads). Load average at start {load['start'][0]:.1f}, end "
        f"{load['end'][0]:.1f}. " + (f"**Measured on a busy machine (load ≈ {load['end'][0]:.0f}) — rerun on a quiet "
                                     "one**; the ratios between rows are the useful part, and even they are noisy."
                                     if busy else "Quiet machine."),
        f"Batch {report['batch_size']} of {report['crop'][0]}×{report['crop'][1]} crops (CamVid images scaled by "
        "0.5); the step is forward + loss + backward + AdamW on batches prepared beforehand; "
        f"{report['steps']} timed steps after {report['warmup']} warm-up, median.", "",
        "| model | precision | memory format | step median s | images/s | × fp32 NCHW |",
        "|---|---|---|---:|---:|---:|",
    ]
    base = {r["model"]: r["images_per_s"] for r in report["steps_results"]
            if r["precision"] == "32-true" and not r["channels_last"] and "images_per_s" in r}
    for r in report["steps_results"]:
        layout = "channels-last" if r["channels_last"] else "NCHW"
        if "error" in r:
            lines.append(f"| {r['model']} | {r['precision']} | {layout} | failed: {r['error'][:60]} | | |")
            continue
        ratio = f"{r['images_per_s'] / base[r['model']]:.2f}" if r["model"] in base else "-"
        lines.append(f"| {r['model']} | {r['precision']} | {layout} | {r['median_s']:.3f} | "
                     f"{r['images_per_s']:.2f} | {ratio} |")
    data = report["data"]
    lines += ["", f"Data pipeline alone (train loader, {data['workers']} worker(s), CamVid decode + augment + "
              f"collate): **{data['images_per_s']:.1f} images/s** ({data['images']} images in "
              f"{data['seconds']:.1f} s).",
              "", "Still to measure (a training run, not a speed run): bf16-mixed vs fp32 CamVid val mIoU at equal "
              "steps, e.g.", "",
              "    " + MIOU_COMMAND.format(precision="32-true", tag="fp32_cl"),
              "    " + MIOU_COMMAND.format(precision="bf16-mixed", tag="bf16_cl"), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=camvid_train.DEFAULT_ROOT)
    parser.add_argument("--models", nargs="+", default=["sfnet_r18", "sfnet_lite_r18"])
    parser.add_argument("--crop", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="data loader workers for the pipeline timing")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (oneDNN primitive creation)")
    parser.add_argument("--data-batches", type=int, default=10, help="batches timed for the data pipeline")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's, the cores; on a busy machine 1 wastes less)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "train_speed.json")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.data_batches < 1 or args.batch_size < 1:
        parser.error("--steps, --data-batches and --batch-size must be >= 1 and --warmup >= 0")
    if not (args.root / "images").is_dir():
        parser.error(f"CamVid not found at {args.root} (give --root DIR)")
    from alignseg.deploy.bench import environment

    if args.threads:
        torch.set_num_threads(args.threads)
    start_load = list(os.getloadavg())
    data, batches = time_data(recipe(args, args.models[0], "32-true", False), args.data_batches)
    print(f"data pipeline: {data['images_per_s']:.1f} images/s ({data['workers']} workers)", flush=True)
    results = []
    for model in args.models:
        for precision, channels_last in CONFIGS:
            row = {"model": model, "precision": precision, "channels_last": channels_last}
            try:
                row.update(time_steps(recipe(args, model, precision, channels_last), batches[:3], args.steps,
                                      args.warmup))
            except Exception as error:  # one configuration failing must not lose the table
                row["error"] = f"{type(error).__name__}: {error}"
            results.append(row)
            print(f"{model:16s} {precision:10s} {'channels-last' if channels_last else 'NCHW':13s} "
                  + (row["error"] if "error" in row else f"{row['median_s']:.3f} s/step  {row['images_per_s']:.2f} "
                     f"images/s  (load {os.getloadavg()[0]:.1f})"), flush=True)
    env = environment()
    report = {"command": " ".join(["python benchmarks/train_speed.py", *(argv if argv is not None else sys.argv[1:])]),
              "machine": {"cpu": env["cpu"], "cpus": env["cpu_count"], "threads": env["threads"],
                          "torch": env["torch"], "cpu_flags": env["cpu_flags"]},
              "load_average": {"start": start_load, "end": list(os.getloadavg())},
              "batch_size": args.batch_size, "crop": list(args.crop), "steps": args.steps, "warmup": args.warmup,
              "data": data, "steps_results": results,
              "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    md = markdown(report)
    print("\n" + md + f"\nwrote {args.out} and {write_report(report, args.out, md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
