#!/usr/bin/env python
"""CamVid training benchmark on a CPU: FCN, FPN+PPM, SFNet and SFNet-Lite (ResNet-18) from scratch, equal budget.

Every model gets the same data, seed, schedule and number of iterations, at reduced resolution so that
the run fits a CPU: images are scaled by ``--image-scale`` (0.5: 240x180) with +-25% jitter and cropped
to ``--crop``; validation runs after every epoch on the whole val split at the same image scale (logits
resized back to the full 480x360 labels). No ImageNet weights are used, so absolute numbers are far
below the papers'; the point is the comparison at equal budget and the learning curves.

Writes ``benchmarks/results/camvid_train.md`` and ``.json`` (after every model, so a partial run leaves
its results). Reads CamVid from ``--root`` (default ``../shared/data/camvid`` beside the repository)
and skips with a message when it is absent.

    python benchmarks/camvid_train.py                                # the recorded run (3 epochs)
    python benchmarks/camvid_train.py --epochs 1 --limit-train 2 --limit-val 2 --output /tmp/camvid  # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path(os.environ.get("ALIGNSEG_SHARED", REPO.parent / "shared")) / "data" / "camvid"
DEFAULT_MODELS = ("fcn_r18", "fpn_ppm_r18", "sfnet_r18", "sfnet_lite_r18")


def build_config(args: argparse.Namespace, model: str):
    from alignseg.engine import load_config

    s = args.image_scale
    overrides = [
        f"model.name={model}",
        "model.num_classes=11",
        "model.aux_heads=false",
        "data.dataset=camvid",
        f"data.root={args.root}",
        "data.train_split=train",
        "data.val_split=val",
        f"data.crop_size=[{args.crop[0]}, {args.crop[1]}]",
        f"data.scale_range=[{args.scale_range[0] * s}, {args.scale_range[1] * s}]",
        f"data.pad_value={args.pad_value}",
        f"data.pad_position={args.pad_position}",
        "data.color_jitter=0.25",
        f"data.class_uniform_pct={args.class_uniform}",
        f"data.batch_size={args.batch_size}",
        f"data.workers={args.workers}",
        "loss.name=ce",
        f"optim.name={args.optimizer}",
        f"optim.lr={args.lr}",
        f"optim.weight_decay={args.weight_decay}",
        "optim.no_decay_bn_bias=true",
        "schedule.power=0.9",
        "schedule.per=iteration",
        f"schedule.warmup_iters={args.warmup}",
        f"train.max_epochs={args.epochs}",
        f"train.seed={args.seed}",
        f"train.precision={args.precision}",
        f"train.channels_last={str(args.channels_last).lower()}",
        "train.accelerator=cpu",
        "train.progress_bar=false",
        "train.log_every_n_steps=5",
        f"train.threads={args.threads}" if args.threads else "train.threads=null",
        f"train.limit_train_batches={args.limit_train}",
        f"train.limit_val_batches={args.limit_val}",
        f"train.output_dir={args.runs / model}",
        f"eval.scales=[{s}]",
    ]
    return load_config(None, overrides)


def percent(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.2f}"


def write_results(args: argparse.Namespace, results: list[dict], command: str) -> None:
    from alignseg.fileio import atomic_write

    args.output.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "settings": settings(args), "machine": machine(), "results": results}
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(args.output.with_suffix(".json"), lambda f: f.write(text.encode()))
    atomic_write(args.output.with_suffix(".md"), lambda f: f.write(markdown(record).encode()))


def settings(args: argparse.Namespace) -> dict:
    return {
        "models": list(args.models), "epochs": args.epochs, "image_scale": args.image_scale, "crop": list(args.crop),
        "scale_range": list(args.scale_range), "pad_value": args.pad_value, "pad_position": args.pad_position,
        "batch_size": args.batch_size, "optimizer": args.optimizer, "lr": args.lr,
        "weight_decay": args.weight_decay, "warmup_iters": args.warmup, "class_uniform_pct": args.class_uniform,
        "seed": args.seed, "precision": args.precision, "channels_last": args.channels_last,
        "workers": args.workers, "threads": args.threads, "limit_train_batches": args.limit_train,
        "limit_val_batches": args.limit_val, "root": str(args.root),
    }


def machine() -> dict:
    import torch

    return {"cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def markdown(record: dict) -> str:
    s, results = record["settings"], record["results"]
    batches = "all" if s["limit_train_batches"] == 1.0 else s["limit_train_batches"]
    lines = [
        "# CamVid training benchmark (CPU, from scratch, equal budget)",
        "",
        "Written by `benchmarks/camvid_train.py`; numbers below are from the run recorded here.",
        "",
        f"Command: `{record['command']}`",
        "",
        f"- data: CamVid (SegNet 11-class release) train split ({batches} batches per epoch), validated on the "
        "val split after every epoch;",
        f"  images scaled by {s['image_scale']} (times {s['scale_range'][0]}..{s['scale_range'][1]} during "
        f"training, padding {s['pad_value']} {s['pad_position']}), training crops "
        f"{s['crop'][0]}×{s['crop'][1]}, flip, colour jitter 0.25, class-uniform sampling {s['class_uniform_pct']};",
        "  validation on whole val images at the same scale, logits resized to the full 480×360 labels, no flip",
        f"- training: fresh weights (no ImageNet), {s['optimizer']} lr {s['lr']} weight decay {s['weight_decay']} "
        f"(norm layers and biases exempt), poly 0.9 per iteration after {s['warmup_iters']} warm-up iterations, "
        f"cross-entropy, batch {s['batch_size']}, {s['epochs']} epoch(s), seed {s['seed']} (same data order for "
        f"every model), precision {s.get('precision', '32-true')}, channels-last {s.get('channels_last', False)}",
        f"- machine: {record['machine']['cpus']} CPUs, torch threads: {record['machine']['cpu_threads']}, torch "
        f"{record['machine']['torch']}; load average at the end {record['machine']['load_average_at_end']} "
        "(the machine was shared with other jobs: wall times are indicative only)",
        "",
        "## Summary",
        "",
        "| model | params | iterations | train+val wall time | final val mIoU | best val mIoU | pixel acc. |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['iterations']} | {r['seconds'] / 60:.1f} min | "
                     f"{percent(r['final_miou'])} | {percent(r['best_miou'])} | {percent(r['pixel_accuracy'])} |")
    epochs = max((len(r["curve"]) for r in results), default=0)
    lines += ["", "## Validation mIoU (%) after each epoch", "",
              "| epoch | " + " | ".join(r["model"] for r in results) + " |",
              "|---:|" + "---:|" * len(results)]
    for e in range(epochs):
        cells = [percent(r["curve"][e]["miou"]) if e < len(r["curve"]) else "" for r in results]
        lines.append(f"| {e + 1} | " + " | ".join(cells) + " |")
    if results:
        classes = list(results[0]["iou"])
        lines += ["", "## Per-class IoU (%) after the last epoch", "",
                  "| class | " + " | ".join(r["model"] for r in results) + " |",
                  "|---|" + "---:|" * len(results)]
        for c in classes:
            lines.append(f"| {c} | " + " | ".join(percent(r["iou"].get(c)) for r in results) + " |")
        lines.append("| **mIoU** | " + " | ".join(f"**{percent(r['final_miou'])}**" for r in results) + " |")
    lines += ["", "Per model, `train.output_dir` holds the checkpoints, `model_best.safetensors` and the CSV/"
              "TensorBoard "
              "logs; re-evaluate with `alignseg eval --weights <run>/model_best.safetensors --dataset camvid "
              "--root <camvid>`.", ""]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"CamVid folder (default {DEFAULT_ROOT})")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-scale", type=float, default=0.5)
    parser.add_argument("--scale-range", type=float, nargs=2, default=[0.75, 1.25], metavar=("LOW", "HIGH"),
                        help="training scale jitter, relative to --image-scale")
    parser.add_argument("--pad-value", choices=["zero", "mean"], default="zero")
    parser.add_argument("--pad-position", choices=["center", "bottom_right"], default="center")
    parser.add_argument("--crop", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--optimizer", choices=["sgd", "adamw"], default="adamw")
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--weight-decay", type=float, default=0.0001)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--class-uniform", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=["32-true", "bf16-mixed"], default="32-true",
                        help="bf16-mixed: autocast to bfloat16 (AMX on CPUs that have it)")
    parser.add_argument("--channels-last", action="store_true", help="weights and batches in NHWC")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a machine busy with other jobs, more threads than "
                        "free cores make every step many times slower)")
    parser.add_argument("--limit-train", type=float, default=1.0, help="batches per epoch (>1) or fraction")
    parser.add_argument("--limit-val", type=float, default=1.0, help="val batches (>1) or fraction")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "benchmarks" / "camvid_train")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "camvid_train.md")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.limit_train = int(args.limit_train) if args.limit_train > 1 else args.limit_train
    args.limit_val = int(args.limit_val) if args.limit_val > 1 else args.limit_val
    return args


def camvid_found(args: argparse.Namespace) -> bool:
    if (args.root / "images").is_dir() or (args.root / "train").is_dir():
        return True
    print(f"CamVid not found at {args.root}: skipping the benchmark (give --root DIR)")
    return False


def train_one(args: argparse.Namespace, model: str) -> tuple[dict, object]:
    """Train ``model`` with the benchmark settings; returns its result row and the trained module."""
    from alignseg.engine.trainer import fit

    config = build_config(args, model)
    print(f"== {model}: {args.epochs} epoch(s)", flush=True)
    start = time.perf_counter()
    result = fit(config, loggers=True)
    seconds = time.perf_counter() - start
    module, metrics = result.module, result.metrics
    row = {
        "model": model,
        "params": sum(p.numel() for p in module.model.parameters()),
        "iterations": module.global_step,
        "seconds": seconds,
        "curve": [{"epoch": h["epoch"] + 1, "step": h["step"], "miou": h["miou"],
                   "pixel_accuracy": h["pixel_accuracy"]} for h in result.history],
        "final_miou": metrics.miou if metrics else None,
        "best_miou": result.best_miou,
        "pixel_accuracy": metrics.pixel_accuracy if metrics else None,
        "iou": dict(zip(module.class_names, metrics.iou.tolist(), strict=True)) if metrics else {},
        "output_dir": str(result.output_dir),
    }
    print(f"== {model}: {seconds / 60:.1f} min, final val mIoU {percent(row['final_miou'])}", flush=True)
    return row, module


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not camvid_found(args):
        return 0
    command = " ".join(["python benchmarks/camvid_train.py", shlex.join(argv if argv is not None else sys.argv[1:])])
    command = command.strip()
    results: list[dict] = []
    for model in args.models:
        row, module = train_one(args, model)
        results.append(row)
        write_results(args, results, command)
        del module
    print(f"wrote {args.output} and {args.output.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
