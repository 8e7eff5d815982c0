#!/usr/bin/env python
"""Accuracy cost of the fast CPU runtimes on a trained model: mIoU on labelled images and agreement with fp32.

Speed tables (bench_cpu.py) compare runtimes on one image; whether bf16 or INT8 is good enough is a
question about a *trained* model on *real* images. For a checkpoint, every runtime predicts every image
of a labelled CamVid split at the model's evaluation scale, and mosaics of the papers' 1024x2048 tiled
from those images (so objects keep the size the model was trained at; a CamVid frame blown up to
1024x2048 would show it objects 4-6 times larger than it has ever seen, and measure that instead).
Reported per runtime: mIoU against the labels, the share of pixels whose predicted class equals
eager fp32 PyTorch's (argmax agreement), and the median latency with its ratio to eager fp32, timed
round-robin (each input through every runtime in turn, so the machine's drift hits all alike). Where the
labels have the input's size (the mosaics) the timed product is the class-id map (``runner.labels``:
OpenVINO's arg-max runs inside its graph, eager PyTorch's after the forward); the small images time the
logits, which are then resized to the full-size labels outside the timing. INT8 is
calibrated on images (or mosaics) of the train split at each size; it is never evaluated on them.
Exported graphs are static at each size (BatchNorm folded).

    python benchmarks/cpu_accuracy.py --weights runs/trained/sfnet_r18/model_best.safetensors
    python benchmarks/cpu_accuracy.py --weights runs/trained/{sfnet_r18,sfnet_lite_r18}/model_best.safetensors
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


def scaled(image: np.ndarray, label: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Image (bilinear) and label (nearest) resized to ``size`` (H, W)."""
    from PIL import Image

    return (np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR)),
            np.asarray(Image.fromarray(label).resize((size[1], size[0]), Image.NEAREST)))


def mosaics(samples, tile: tuple[int, int], size: tuple[int, int], count: int):
    """``count`` image/label mosaics of ``size`` tiled row by row from ``samples`` scaled to ``tile``."""
    rows, cols = -(-size[0] // tile[0]), -(-size[1] // tile[1])
    per_mosaic = rows * cols
    out = []
    for k in range(count):
        tiles = [scaled(*samples[(k * per_mosaic + i) % len(samples)], tile) for i in range(per_mosaic)]
        image = np.concatenate([np.concatenate([t[0] for t in tiles[r * cols:(r + 1) * cols]], axis=1)
                                for r in range(rows)], axis=0)
        label = np.concatenate([np.concatenate([t[1] for t in tiles[r * cols:(r + 1) * cols]], axis=1)
                                for r in range(rows)], axis=0)
        out.append((np.ascontiguousarray(image[:size[0], :size[1]]), np.ascontiguousarray(label[:size[0], :size[1]])))
    return out


def evaluate(model, title: str, batches, labels, calibration, runtimes, num_classes: int, log) -> dict:
    """mIoU, agreement with eager fp32 and median latency of each runtime on ``batches`` (all of one size).

    All runners are built (and warmed up) first; then every batch goes through each runner in turn, so the
    latencies are interleaved and drift of the machine's speed over the run hits every runtime alike.
    """
    from contextlib import ExitStack

    from alignseg.deploy.runtimes import build_runner
    from alignseg.evaluation import ConfusionMatrix

    size = tuple(batches[0].shape[-2:])
    class_ids = tuple(labels[0].shape) == size  # labels at the input size: the class-id map is the product
    with ExitStack() as stack:
        runners = {}
        for label in runtimes:
            backend, precision = RUNTIMES[label]
            options = {} if backend == "eager" else {"export": {"size": size, "dynamic": False}}
            if precision == "int8":
                options["calibration"] = calibration
            runner = stack.enter_context(build_runner(backend, model, precision=precision, **options))
            runners[label] = runner.labels if class_ids else runner
            runners[label](torch.from_numpy(batches[0]))  # untimed: compilation and first-call set-up
        maps = {label: [] for label in runners}
        times = {label: [] for label in runners}
        for batch, truth in zip(batches, labels, strict=True):
            for label, forward in runners.items():
                start = time.perf_counter()
                output = forward(torch.from_numpy(batch))
                times[label].append(1000 * (time.perf_counter() - start))
                if not class_ids:  # logits of the model's scale, scored at the labels' size
                    output = F.interpolate(output, size=tuple(truth.shape), mode="bilinear",
                                           align_corners=model.align_corners).argmax(1)
                maps[label].append(output[0].long())
    reference = maps[runtimes[0]]
    results = {}
    for label in runtimes:
        confusion = ConfusionMatrix(num_classes)
        agree = total = 0
        for pred, truth, ref in zip(maps[label], labels, reference, strict=True):
            confusion.update(pred, truth)
            agree += int((pred == ref).sum())
            total += pred.numel()
        miou = confusion.compute().miou
        latency = float(np.median(times[label]))
        results[label] = {"miou": miou, "agreement": agree / total, "latency_ms": latency,
                          "speedup": float(np.median(times[runtimes[0]])) / latency}
        log(f"  {title:>18s}  {label:14s}  mIoU {100 * miou:6.2f}  agreement with {runtimes[0]} "
            f"{100 * results[label]['agreement']:8.4f}%  median {latency:8.1f} ms  ({results[label]['speedup']:.2f}x)")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, nargs="+", help="alignseg checkpoints of CamVid models")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--split", default="test")
    parser.add_argument("--scale", type=float, default=0.5, help="evaluation scale of the model (camvid_train: 0.5)")
    parser.add_argument("--limit", type=int, default=None, help="first N images of the split (default: all)")
    parser.add_argument("--big-size", type=int, nargs=2, default=(1024, 2048), metavar=("H", "W"))
    parser.add_argument("--big-images", type=int, default=4, help="mosaics of --big-size tiled from the split")
    parser.add_argument("--calibration-count", type=int, default=32,
                        help="train images INT8 is calibrated on (mosaics: an eighth as many, of 54 tiles each)")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=list(RUNTIMES))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cpu_accuracy.json")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"CamVid not found at {args.root}: skipped (set ALIGNSEG_SHARED or --root)")
        return 0
    from alignseg.data import CamVid
    from alignseg.deploy.quantize import rgb_batch, spread
    from alignseg.models.factory import load_model

    dataset, train = CamVid(args.root, args.split), CamVid(args.root, "train")
    indices = range(len(dataset) if args.limit is None else min(args.limit, len(dataset)))
    samples = [dataset.load(i) for i in indices]
    train_samples = [train.load(i) for i in range(len(train))]
    lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    height, width = samples[0][0].shape[:2]
    small = (round(height * args.scale), round(width * args.scale))
    big = tuple(args.big_size)
    parts = [  # (title, input size, labelled inputs, calibration inputs)
        (f"{small[0]}x{small[1]} images", small, samples,
         [image for image, _ in spread(train_samples, args.calibration_count)]),
        (f"{big[0]}x{big[1]} mosaics", big, mosaics(samples, small, big, args.big_images),
         [image for image, _ in mosaics(train_samples, small, big, max(1, args.calibration_count // 8))]),
    ]
    report = {"split": args.split, "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                               "load_average_start": list(os.getloadavg())}, "models": []}
    for weights in args.weights:
        model, record = load_model(weights)
        log(f"{record.model} from {weights} (val mIoU {(record.metrics or {}).get('val_miou')}); CamVid "
            f"{args.split}: {len(samples)} images; torch {torch.__version__}, {torch.get_num_threads()} threads")
        entry = {"model": record.model, "weights": str(weights), "parts": []}
        for title, size, inputs, calibration_images in parts:
            batches = [rgb_batch(image, size) for image, _ in inputs]
            part_labels = [torch.from_numpy(label.astype(np.int64)) for _, label in inputs]
            calibration = [rgb_batch(image, size) for image in calibration_images]
            results = evaluate(model, title, batches, part_labels, calibration, args.runtimes, dataset.num_classes,
                               log)
            entry["parts"].append({"input": title, "size": list(size), "images": len(batches),
                                   "output timed": "class ids" if inputs[0][1].shape == size else "logits",
                                   "calibration_images": len(calibration), "results": results})
        report["models"].append(entry)
    report["machine"]["load_average_end"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    table = ["| model | input | count | timed output | runtime | mIoU | Δ mIoU vs fp32 | agreement with eager fp32 | "
             "median ms | × eager fp32 |", "|---|---|---:|---|---|---:|---:|---:|---:|---:|"]
    for entry in report["models"]:
        for part in entry["parts"]:
            base = part["results"][args.runtimes[0]]["miou"]
            for label, r in part["results"].items():
                table.append(f"| {entry['model']} | {part['input']} | {part['images']} | {part['output timed']} | "
                             f"{label} | {100 * r['miou']:.2f} | {100 * (r['miou'] - base):+.2f} | "
                             f"{100 * r['agreement']:.3f}% | {r['latency_ms']:.0f} | {r['speedup']:.2f} |")
    machine = report["machine"]
    start, end = machine["load_average_start"][0], machine["load_average_end"][0]
    table.append(f"\n{machine['cpus']} CPUs, {machine['torch_threads']} torch threads; load average (1 min) "
                 f"{start:.1f} at the start, {end:.1f} at the end.")
    text = "\n".join(table) + "\n\n```\n" + "\n".join(lines) + "\n```\n"
    args.out.with_suffix(".md").write_text(text)
    print("\n" + "\n".join(table) + f"\n\nwrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
