#!/usr/bin/env python
"""Padding of scaled-down training crops on CamVid: the released SFNet padding against the toolboxes' one.

Released SFNet code: images scaled below the crop are padded with black (0 before normalisation, then
colour-jittered) around a centred image (``data.pad_value=zero data.pad_position=center``). The common
toolboxes pad with the mean colour (exactly 0 after normalisation) at the bottom and right
(``mean bottom_right``). Both are trained with the budget of ``camvid_train.py`` (sfnet_lite_r18 from
scratch, 5 epochs, batch 8, 96×128 crops, AdamW, class-uniform 0.5, one torch thread) for two seeds each;
the final model is evaluated on val and test.

So that padding happens at all, the released CamVid recipe is run at reduced size: frames scaled by
``--image-scale`` 0.26667 (128×96, so a crop is the whole frame, as in configs/camvid/) with the
released scale range 0.5..2.0 around it: a third of the crops are padded, up to 75% of their pixels.

Writes ``benchmarks/results/camvid_padding.md`` and ``.json`` after every run, listing the runs that did
not run (``--no-start-after HH:MM`` UTC stops starting new ones).

    python benchmarks/camvid_padding.py                                          # the recorded runs
    python benchmarks/camvid_padding.py --epochs 1 --limit-train 2 --limit-val 2 --output /tmp/pad.md  # smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import camvid_train  # the benchmark whose settings and training loop this one reuses)

SETTINGS = (("zero", "center"), ("mean", "bottom_right"))
MODEL = "sfnet_lite_r18"


def test_miou(args: argparse.Namespace, module) -> float:
    """mIoU of the trained model on the CamVid test split, with the benchmark's evaluation settings."""
    from alignseg.engine.data import build_val_loader, build_val_split
    from alignseg.engine.evaluator import evaluate

    config = camvid_train.build_config(args, MODEL)
    config.data.val_split = "test"
    dataset = build_val_split(config.data, config.eval)
    loader = build_val_loader(dataset, args.workers)
    limit = args.limit_val if isinstance(args.limit_val, int) else None  # smoke tests: the first batches only
    return evaluate(module.model, itertools.islice(loader, limit), dataset.num_classes, config.eval).miou


def markdown(record: dict) -> str:
    s = record["settings"]
    lines = [
        "# CamVid: padding of scaled-down training crops (CPU, from scratch)",
        "",
        "Written by `benchmarks/camvid_padding.py`; numbers below are from the runs recorded here.",
        "",
        f"Command: `{record['command']}`",
        "",
        f"- {MODEL} trained with the budget of `camvid_train.py`: {s['epochs']} epochs, batch {s['batch_size']}, "
        f"crops {s['crop'][0]}×{s['crop'][1]}, {s['optimizer']} lr {s['lr']}, class-uniform {s['class_uniform_pct']}, "
        "colour jitter 0.25, one torch thread, fresh weights;",
        f"- frames scaled by {s['image_scale']} (128×96: a crop is the whole frame, as in configs/camvid/) and by "
        f"{s['scale_range'][0]}..{s['scale_range'][1]} during training (the released range): a third of the crops "
        "are padded, up to 75% of their pixels;",
        "- evaluated after the last epoch on the whole val and test splits at the same scale (logits resized "
        "to the full 480×360 labels).",
        "- zero center = the released SFNet code (black before normalisation, image centred); mean bottom_right "
        "= the toolboxes (mean colour, 0 after normalisation, image at the top-left).",
        "",
        "| padding | seed | val mIoU | test mIoU | wall time |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in record["results"]:
        lines.append(f"| {r['pad_value']} {r['pad_position']} | {r['seed']} | {camvid_train.percent(r['val_miou'])} "
                     f"| {camvid_train.percent(r['test_miou'])} | {r['seconds'] / 60:.1f} min |")
    lines += ["", "| padding | runs | mean val mIoU | mean test mIoU |", "|---|---:|---:|---:|"]
    for value, position in SETTINGS:
        runs = [r for r in record["results"] if (r["pad_value"], r["pad_position"]) == (value, position)]
        if runs:
            val = statistics.mean(r["val_miou"] for r in runs)
            test = statistics.mean(r["test_miou"] for r in runs)
            lines.append(f"| {value} {position} | {len(runs)} | {camvid_train.percent(val)} | "
                         f"{camvid_train.percent(test)} |")
    if record["not_run"]:
        lines += ["", "Not run, or not finished when this file was written (time limit): "
                  + ", ".join(record["not_run"]) + "."]
    lines += ["", f"Machine: {record['machine']['cpus']} CPUs shared with other jobs (load average at the end "
              f"{record['machine']['load_average_at_end']}); wall times are indicative only.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--no-start-after", default=None, metavar="HH:MM",
                        help="UTC time after which no new run is started")
    ours, rest = parser.parse_known_args(argv)
    defaults = ["--models", MODEL, "--epochs", "5", "--image-scale", "0.26667", "--scale-range", "0.5", "2.0",
                "--runs", str(camvid_train.REPO / "runs" / "benchmarks" / "camvid_padding"),
                "--output", str(camvid_train.REPO / "benchmarks" / "results" / "camvid_padding.md")]
    args = camvid_train.parse_args(defaults + rest)
    if not camvid_train.camvid_found(args):
        return 0
    deadline = None
    if ours.no_start_after:
        hour, minute = (int(x) for x in ours.no_start_after.split(":"))
        now = dt.datetime.now(dt.timezone.utc)
        deadline = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if deadline < now - dt.timedelta(hours=12):
            deadline += dt.timedelta(days=1)
    command = "python benchmarks/camvid_padding.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    plan = [(seed, value, position) for seed in ours.seeds for value, position in SETTINGS]
    results: list[dict] = []
    runs_root = args.runs
    for k, (seed, value, position) in enumerate(plan):
        if deadline is not None and dt.datetime.now(dt.timezone.utc) > deadline:
            break
        args.seed, args.pad_value, args.pad_position = seed, value, position
        args.runs = runs_root / f"{value}_{position}_seed{seed}"
        row, module = camvid_train.train_one(args, MODEL)
        row.update(seed=seed, pad_value=value, pad_position=position, val_miou=row["final_miou"],
                   test_miou=test_miou(args, module))
        print(f"== {value} {position} seed {seed}: test mIoU {camvid_train.percent(row['test_miou'])}", flush=True)
        results.append(row)
        not_run = [f"{v} {p} seed {s}" for s, v, p in plan[k + 1:]]
        write(args, command, results, not_run)
        del module
    if not results:
        write(args, command, results, [f"{v} {p} seed {s}" for s, v, p in plan])
    print(f"wrote {args.output} and {args.output.with_suffix('.json')}")
    return 0


def write(args: argparse.Namespace, command: str, results: list[dict], not_run: list[str]) -> None:
    from bench_report import write_report

    record = {"command": command.strip(), "settings": camvid_train.settings(args), "machine": camvid_train.machine(),
              "results": results, "not_run": not_run}
    del record["settings"]["seed"], record["settings"]["pad_value"], record["settings"]["pad_position"]
    write_report(record, args.output.with_suffix(".json"), markdown(record))


if __name__ == "__main__":
    sys.exit(main())
