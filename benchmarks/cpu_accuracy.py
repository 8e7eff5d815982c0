#!/usr/bin/env python
"""Accuracy cost of the fast CPU runtimes on a trained model: mIoU on labelled images and agreement with fp32.

Speed tables (bench_cpu.py) compare runtimes on one image; whether bf16 or INT8 is good enough is a
question about a *trained* model on *real* images. For a checkpoint, every runtime predicts every image
of a labelled CamVid split at the model's evaluation scale, and a few images resized to the papers'
1024x2048; reported per runtime: mIoU against the labels, and the share of pixels whose predicted class
equals eager fp32 PyTorch's (argmax agreement). INT8 is calibrated on images of the train split at each
size; it is never evaluated on them. Exported graphs are static at each size (BatchNorm folded).

    python benchmarks/cpu_accuracy.py --weights runs/trained/sfnet_r18/model_best.pt
    python benchmarks/cpu_accuracy.py --weights W --limit 20 --big-images 2      # a quicker look

Writes benchmarks/results/cpu_accuracy.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path(os.environ.get("ALIGNSEG_SHARED", REPO.parent / "shared")) / "data" / "camvid"
RUNTIMES = {  # label: (backend, precision)
    "eager fp32": ("eager", "fp32"),
    "openvino f32": ("openvino", "fp32"),
    "openvino bf16": ("openvino", "bf16"),
    "openvino int8": ("openvino", "int8"),
}


def predictions(runner, batches: list[np.ndarray], label_sizes: list[tuple[int, int]]) -> tuple[list, float]:
    """Class maps of every batch at its label's size (logits resized bilinearly) and the median latency."""
    runner(torch.from_numpy(batches[0]))  # untimed: compilation and first-call set-up
    maps, times = [], []
    for batch, size in zip(batches, label_sizes, strict=True):
        start = time.perf_counter()
        logits = runner(torch.from_numpy(batch))
        times.append(time.perf_counter() - start)
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        maps.append(logits.argmax(1)[0])
    return maps, 1000 * float(np.median(times))


def evaluate(model, name_of_size: str, batches, labels, calibration, runtimes, num_classes: int, log) -> dict:
    """mIoU and agreement with eager fp32 of each runtime on ``batches`` (all of one size)."""
    from alignseg.deploy.runtimes import build_runner
    from alignseg.evaluation import ConfusionMatrix

    size = tuple(batches[0].shape[-2:])
    label_sizes = [tuple(label.shape) for label in labels]
    results, reference = {}, None
    for label in runtimes:
        backend, precision = RUNTIMES[label]
        options = {} if backend == "eager" else {"export": {"size": size, "dynamic": False}}
        if precision == "int8":
            options["calibration"] = calibration
        start = time.perf_counter()
        with build_runner(backend, model, precision=precision, **options) as runner:
            maps, latency = predictions(runner, batches, label_sizes)
        confusion = ConfusionMatrix(num_classes)
        agree = total = 0
        for index, (pred, truth) in enumerate(zip(maps, labels, strict=True)):
            confusion.update(pred, truth)
            if reference is not None:
                agree += int((pred == reference[index]).sum())
                total += pred.numel()
        if reference is None:
            reference = maps
        miou = confusion.compute().miou
        results[label] = {"miou": miou, "agreement": agree / total if total else 1.0, "latency_ms": latency}
        log(f"  {name_of_size:>16s}  {label:14s}  mIoU {100 * miou:6.2f}  agreement with fp32 "
            f"{100 * results[label]['agreement']:8.4f}%  median {latency:8.1f} ms  "
            f"({time.perf_counter() - start:.0f} s)")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="alignseg checkpoint of a CamVid model")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--split", default="test")
    parser.add_argument("--scale", type=float, default=0.5, help="evaluation scale of the model (camvid_train: 0.5)")
    parser.add_argument("--limit", type=int, default=None, help="first N images of the split (default: all)")
    parser.add_argument("--big-size", type=int, nargs=2, default=(1024, 2048), metavar=("H", "W"))
    parser.add_argument("--big-images", type=int, default=8, help="images of the split resized to --big-size")
    parser.add_argument("--calibration-count", type=int, default=32, help="train images INT8 is calibrated on")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=list(RUNTIMES))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cpu_accuracy.json")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"CamVid not found at {args.root}: skipped (set ALIGNSEG_SHARED or --root)")
        return 0
    from alignseg.data import CamVid
    from alignseg.deploy.loading import load_model
    from alignseg.deploy.quantize import rgb_batch, spread
    from alignseg.models.weights import read_checkpoint

    meta = read_checkpoint(args.weights).metadata
    model = load_model(meta["model"], weights=args.weights)
    dataset, train = CamVid(args.root, args.split), CamVid(args.root, "train")
    indices = range(len(dataset) if args.limit is None else min(args.limit, len(dataset)))
    samples = [dataset.load(i) for i in indices]
    labels = [torch.from_numpy(label.astype(np.int64)) for _, label in samples]
    calibration_images = [train.load(i)[0] for i in spread(range(len(train)), args.calibration_count)]
    lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    log(f"{meta['model']} from {args.weights} (val mIoU {meta.get('val_miou')}); CamVid {args.split}: "
        f"{len(samples)} images; torch {torch.__version__}, {torch.get_num_threads()} threads")
    report = {"model": meta["model"], "weights": str(args.weights), "split": args.split, "parts": []}
    height, width = samples[0][0].shape[:2]
    small = (round(height * args.scale), round(width * args.scale))
    parts = [(f"{small[0]}x{small[1]}", small, samples, labels)]
    big = spread(list(range(len(samples))), args.big_images)
    parts.append((f"{args.big_size[0]}x{args.big_size[1]}", tuple(args.big_size), [samples[i] for i in big],
                  [labels[i] for i in big]))
    for title, size, part_samples, part_labels in parts:
        batches = [rgb_batch(image, size) for image, _ in part_samples]
        calibration = [rgb_batch(image, size) for image in calibration_images]
        results = evaluate(model, title, batches, part_labels, calibration, args.runtimes, dataset.num_classes, log)
        report["parts"].append({"size": list(size), "images": len(batches), "results": results})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    table = ["| input | images | runtime | mIoU | Δ mIoU vs fp32 | agreement with eager fp32 | median ms |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for part in report["parts"]:
        base = part["results"][args.runtimes[0]]["miou"]
        for label, r in part["results"].items():
            size = f"{part['size'][0]}x{part['size'][1]}"
            table.append(f"| {size} | {part['images']} | {label} | {100 * r['miou']:.2f} | "
                         f"{100 * (r['miou'] - base):+.2f} | {100 * r['agreement']:.3f}% | {r['latency_ms']:.0f} |")
    text = "\n".join(table) + "\n\n```\n" + "\n".join(lines) + "\n```\n"
    args.out.with_suffix(".md").write_text(text)
    print("\n" + "\n".join(table) + f"\n\nwrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
