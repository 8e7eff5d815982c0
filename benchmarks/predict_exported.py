"""Wall time of ``alignseg predict`` per image: a checkpoint (eager PyTorch, or exported in-process to ONNX
Runtime) against the exported .onnx (ONNX Runtime) and OpenVINO .xml files run as they are.

Two views, both on the same CamVid images (360x480):

- in-process: ``alignseg.Predictor`` built once (setup time reported apart), then the mean wall time per
  image over the images after one warm-up image, and the share of pixels whose label agrees with the
  eager checkpoint;
- command line: the whole ``alignseg predict FOLDER --weights W`` process (start-up, loading, any export,
  prediction, writing the PNGs), divided by the number of images.

::

    python benchmarks/predict_exported.py [--model sfnet_r18] [--weights W] [--images DIR] [--count 8]

Without ``--weights`` the model has fresh weights with BatchNorm statistics from random images (speed does
not depend on the weights). Results: ``benchmarks/results/predict_exported.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALIGNSEG_SHARED", REPO.parent / "shared"))


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sfnet_r18")
    parser.add_argument("--weights", default=None, help="a trained checkpoint (default: fresh weights)")
    parser.add_argument("--images", type=Path, default=SHARED / "data" / "camvid" / "images" / "test")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "predict_exported")
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        print(f"no images at {args.images}: skipped (set ALIGNSEG_SHARED or --images)")
        return 0

    import alignseg
    from alignseg.data import read_image
    from alignseg.deploy.export import export_model
    from alignseg.deploy.loading import random_model
    from alignseg.models.checkpoint import read_checkpoint, save_checkpoint

    work = Path(tempfile.mkdtemp(prefix="alignseg-predict-bench-"))
    images_dir = work / "images"
    images_dir.mkdir()
    paths = sorted(args.images.glob("*.jpg"))[: args.count]
    for path in paths:
        (images_dir / path.name).symlink_to(path)
    images = [read_image(path) for path in paths]
    if args.weights is None:
        weights = save_checkpoint(work / "model.safetensors", random_model(args.model, num_classes=11),
                                  model=args.model, num_classes=11, source="fresh weights, BatchNorm from noise")
    else:
        weights = Path(args.weights)
    checkpoint = read_checkpoint(weights)
    model, record = alignseg.load_model(checkpoint)
    height, width = images[0].shape[:2]
    exports = {}
    for suffix, fmt in ((".onnx", "onnx"), (".xml", "openvino")):
        exports[fmt] = work / f"model{suffix}"
        _, seconds = timed(lambda fmt=fmt: export_model(model, exports[fmt], format=fmt, size=(height, width),
                                                        record=record.replace(source=str(weights))))
        print(f"exported {fmt} in {seconds:.1f} s (with its parity check)", flush=True)

    cases = [  # (label, weights, backend)
        ("checkpoint, eager PyTorch", weights, None),
        ("checkpoint, --backend onnxruntime (exported in-process)", weights, "onnxruntime"),
        ("model.onnx (ONNX Runtime)", exports["onnx"], None),
        ("model.xml (OpenVINO fp32)", exports["openvino"], None),
    ]
    rows, reference = [], None
    for label, source, backend in cases:
        predictor, setup = timed(lambda s=source, b=backend: alignseg.Predictor.from_checkpoint(s, backend=b,
                                                                                             device="cpu"))
        predictor(images[0])  # warm-up (first-call allocations, OpenVINO's compile for this shape)
        labels, seconds = timed(lambda p=predictor: [p(image).label for image in images])
        predictor.close()
        reference = labels if reference is None else reference
        agreement = float(np.mean([(a == b).mean() for a, b in zip(labels, reference, strict=True)]))
        command = [sys.executable, "-m", "alignseg", "predict", str(images_dir), "--weights", str(source),
                   "-o", str(work / "out"), "--device", "cpu", "--quiet"] + (["--backend", backend] if backend else [])
        _, cli_seconds = timed(lambda c=command: subprocess.run(c, check=True, capture_output=True, cwd=REPO))
        rows.append({"case": label, "setup_s": setup, "per_image_ms": 1000 * seconds / len(images),
                     "cli_per_image_s": cli_seconds / len(images), "cli_total_s": cli_seconds,
                     "label_agreement": agreement})
        print(f"{label}: setup {setup:.2f} s, {rows[-1]['per_image_ms']:.0f} ms/image in-process, "
              f"CLI {cli_seconds:.1f} s for {len(images)} images, agreement {100 * agreement:.3f}%", flush=True)

    environment = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    report = {"model": record.model, "weights": str(args.weights or "fresh"), "images": len(images),
              "size": [height, width], "environment": environment, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# alignseg predict: exported files vs the checkpoint ({record.model}, {len(images)} CamVid images "
             f"{height}x{width}, CPU, {environment['threads']} threads)", "",
             "`python benchmarks/predict_exported.py`. In-process: `alignseg.Predictor` built once, mean wall time "
             "per image after a warm-up image. CLI: the whole `alignseg predict FOLDER` process (start-up, loading, "
             "any export, prediction, PNG writing) per image. Agreement: pixels with the eager checkpoint's label.",
             "", "| weights | setup (s) | in-process (ms/image) | CLI (s/image) | CLI total (s) | label agreement |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['case']} | {r['setup_s']:.2f} | {r['per_image_ms']:.0f} | {r['cli_per_image_s']:.2f} | "
              f"{r['cli_total_s']:.1f} | {100 * r['label_agreement']:.3f}% |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
