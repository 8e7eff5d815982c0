#!/usr/bin/env python
"""Data loading speed at Cityscapes resolution: images/s of decode + augmentation with 0, 1 and 2 workers.

Makes ``--images`` 2048×1024 image/label pairs in a temporary folder (CamVid frames: the central 480×240
band upscaled 4.27× with bicubic, labels with nearest neighbour; synthetic noise when CamVid is absent),
stored as PNG (Cityscapes' format) and as JPEG (quality 90), and times one epoch of the training loader
of the released Cityscapes recipe (configs/cityscapes/sfnet_r18.yaml: random scale 0.5..2.0 with bicubic
resizing, 1024×1024 crop, flip, colour jitter, Gaussian blur, normalisation; batch 2 per GPU) through the
engine's own loader, and of decoding alone (normalisation only, whole images, batch 1). Class-uniform
sampling is off (it changes which crop is taken, not the cost of taking it).

Writes ``benchmarks/results/data_loading.md`` and ``.json``.

    python benchmarks/data_loading.py                   # the recorded run
    python benchmarks/data_loading.py --images 4 --workers 0 --output /tmp/loading.md   # smoke test
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

REPO = Path(__file__).resolve().parents[1]
CAMVID = Path(os.environ.get("ALIGNSEG_SHARED", REPO.parent / "shared")) / "data" / "camvid"
RECIPE = REPO / "configs" / "cityscapes" / "sfnet_r18.yaml"
SIZE = (2048, 1024)  # width, height


def make_pairs(folder: Path, count: int, suffix: str) -> str:
    """Write ``count`` 2048×1024 image/label pairs under ``folder``; returns where the frames came from."""
    from PIL import Image

    frames = sorted((CAMVID / "images" / "train").glob("*.jpg"))[:count]
    source = "CamVid train frames" if len(frames) == count else "synthetic noise (CamVid absent)"
    rng = np.random.default_rng(0)
    for i in range(count):
        if len(frames) == count:
            image = Image.open(frames[i]).convert("RGB").crop((0, 60, 480, 300))
            label = Image.open(CAMVID / "labels" / "train" / f"{frames[i].stem}.png").crop((0, 60, 480, 300))
        else:
            image = Image.fromarray(rng.integers(0, 256, (240, 480, 3), dtype=np.uint8))
            label = Image.fromarray(rng.integers(0, 11, (240, 480), dtype=np.uint8))
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "labels").mkdir(parents=True, exist_ok=True)
        image.resize(SIZE, Image.BICUBIC).save(folder / "images" / f"{i:04d}{suffix}", quality=90)
        label.resize(SIZE, Image.NEAREST).save(folder / "labels" / f"{i:04d}.png")
    return source


def time_epoch(folder: Path, suffix: str, workers: int, mode: str) -> dict:
    """One epoch through the engine's training loader (``train``) or the evaluation loader (``decode``)."""
    import torch

    from alignseg.data import CAMVID_CLASSES, ImageFolderDataset
    from alignseg.engine import load_config
    from alignseg.engine.data import build_train_loader, build_train_sampler, build_train_transform, build_val_loader

    data = load_config(RECIPE, ["data.class_uniform_pct=0.0", f"data.workers={workers}"], training=False).data
    transform = build_train_transform(data, seed=0) if mode == "train" else None
    dataset = ImageFolderDataset(folder / "images", folder / "labels", class_names=CAMVID_CLASSES,
                                 image_suffix=suffix, transform=transform)
    if mode == "train":
        loader = build_train_loader(dataset, build_train_sampler(dataset, data, seed=0), data, seed=0)
    else:
        loader = build_val_loader(dataset, workers)
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    first = None
    images = 0
    for batch in loader:
        images += batch["image"].shape[0]
        assert batch["image"].dtype == torch.float32
        if first is None:
            first = time.perf_counter() - start
    seconds = time.perf_counter() - start
    steady = (images - len(batch["image"])) / (seconds - first) if seconds > first else float("nan")
    shape, batch_size = list(batch["image"].shape[-2:]), loader.batch_size
    del loader, batch  # shuts the workers down, so that their CPU time is counted below
    gc.collect()
    cpu = cpu_seconds() - cpu_before
    return {"mode": mode, "format": suffix.lstrip("."), "workers": workers, "images": images,
            "seconds": seconds, "images_per_s": images / seconds, "first_batch_s": first,
            "steady_images_per_s": steady, "cpu_ms_per_image": 1000 * cpu / images,
            "batch_size": batch_size, "output_hw": shape}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (loader workers), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def markdown(record: dict) -> str:
    lines = [
        "# Data loading speed at Cityscapes resolution (2048×1024)",
        "",
        "Written by `benchmarks/data_loading.py`; numbers below are from the run recorded here.",
        "",
        f"Command: `{record['command']}`",
        "",
        f"- {record['images']} image/label pairs of 2048×1024 made from {record['source']}; images as PNG "
        "(Cityscapes' format) or JPEG quality 90, labels as 8-bit PNG;",
        "- `train`: one epoch of the engine's training loader with the released Cityscapes augmentation "
        "(configs/cityscapes/sfnet_r18.yaml: scale 0.5..2.0 bicubic, 1024×1024 crop, flip, colour jitter 0.25, "
        "Gaussian blur, normalise; batch 2; class-uniform sampling off);",
        "- `decode`: one epoch of the evaluation loader (decode + normalise the whole image, batch 1);",
        "- images/s over the whole epoch including worker start-up, and without the first batch (steady); CPU ms "
        "per image: CPU time of the main process and its workers per image, which does not depend on how busy the "
        "machine is (one free core loads about 1000 / (CPU ms) images/s).",
        f"- machine: {record['machine']['cpus']} CPUs shared with other jobs (load average before "
        f"{record['machine']['load_average_before']}, after {record['machine']['load_average_after']}); "
        f"torch {record['machine']['torch']}, OpenCV threads {record['machine']['cv2_threads']}.",
        "",
        "| mode | image file | workers | images/s (epoch) | images/s (steady) | first batch | CPU ms / image |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in record["results"]:
        lines.append(f"| {r['mode']} | {r['format']} | {r['workers']} | {r['images_per_s']:.2f} | "
                     f"{r['steady_images_per_s']:.2f} | {r['first_batch_s']:.2f} s | {r['cpu_ms_per_image']:.0f} |")
    lines += ["", "Loader workers are separate processes, so on free cores the rate grows with the number of "
              "workers; the wall-clock rates above were taken on a machine whose load was far above its core count "
              "and are lower bounds. Cores needed per GPU = images/s the GPU consumes × CPU ms per image / 1000.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=24, help="pairs per epoch (default 24)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--formats", nargs="+", choices=["png", "jpg"], default=["png", "jpg"])
    parser.add_argument("--modes", nargs="+", choices=["train", "decode"], default=["train", "decode"])
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "data_loading.md")
    args = parser.parse_args(argv)

    import cv2
    import torch
    from bench_report import write_report

    before = list(os.getloadavg())
    results = []
    with tempfile.TemporaryDirectory(prefix="alignseg-loading-") as temporary:
        for fmt in args.formats:
            folder = Path(temporary) / fmt
            source = make_pairs(folder, args.images, f".{fmt}")
            for mode in args.modes:
                for workers in args.workers:
                    row = time_epoch(folder, f".{fmt}", workers, mode)
                    print(f"{mode} {fmt} workers {workers}: {row['images_per_s']:.2f} images/s "
                          f"(steady {row['steady_images_per_s']:.2f})", flush=True)
                    results.append(row)
    record = {
        "command": "python benchmarks/data_loading.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "images": args.images, "source": source, "results": results,
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "cv2_threads": cv2.getNumThreads(),
                    "python": platform.python_version(), "load_average_before": before,
                    "load_average_after": list(os.getloadavg())},
    }
    record["command"] = record["command"].strip()
    write_report(record, args.output.with_suffix(".json"), markdown(record))
    print(f"wrote {args.output} and {args.output.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
