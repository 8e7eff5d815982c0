#!/usr/bin/env python
"""Peak memory of ``alignseg predict`` on huge images: whole-image inference against the tiled path.

Makes ``W×H`` JPEGs (quality 90) from a CamVid test frame upscaled with bicubic resizing, saves a
random-init ``sfnet_lite_r18`` (11 classes) checkpoint, and runs ``alignseg predict IMAGE --quiet`` under
``/usr/bin/time -v`` once per case ``MEGAPIXELS:MAX_PIXELS`` (``MAX_PIXELS`` 0: the whole image at once, the
code before tiling; ``default``: the 8 Mpx default budget), recording the maximum resident set size and
the wall time. The 48 Mpx whole-image case needs ~16 GB (issue 10) and is left out on small machines.

Writes ``benchmarks/results/predict_memory.md`` and ``.json``.

    python benchmarks/predict_memory.py                          # the recorded run
    python benchmarks/predict_memory.py --cases 1:0 1:500000 --output /tmp/memory.md   # smoke test
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FRAME = "data/camvid/images/test/0001TP_008550.jpg"
SIZES = {1: (1200, 900), 12: (4000, 3000), 48: (8000, 6000)}
"""Megapixels → (width, height): CamVid's 4:3 aspect."""


def make_inputs(folder: Path, megapixels: list[int]) -> tuple[dict[int, Path], Path]:
    """The upscaled JPEGs and a random-init checkpoint."""
    import torch
    from PIL import Image

    import alignseg

    frame = Image.open(Path(os.environ.get("ALIGNSEG_SHARED", "/work/shared")) / FRAME).convert("RGB")
    images = {}
    for mp in megapixels:
        images[mp] = folder / f"camvid_{mp}mpx.jpg"
        frame.resize(SIZES[mp], Image.BICUBIC).save(images[mp], quality=90)
    weights = folder / "sfnet_lite_r18_random.pt"
    model = alignseg.create_model("sfnet_lite_r18", num_classes=11)
    torch.save({"model": "sfnet_lite_r18", "num_classes": 11, "state_dict": model.state_dict()}, weights)
    return images, weights


def measure(image: Path, weights: Path, max_pixels: str, output: Path) -> dict:
    """Run the CLI under ``/usr/bin/time -v``: peak RSS (MB), wall seconds, exit status."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "alignseg", "predict", str(image), "--weights",
               str(weights), "-o", str(output), "--quiet", "--device", "cpu"]
    if max_pixels != "default":
        command += ["--max-pixels", max_pixels]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.group(1).split(":")))) if wall else None
    return {"exit_status": done.returncode, "peak_rss_mb": int(rss.group(1)) / 1024 if rss else None,
            "wall_s": seconds, "stdout": done.stdout.strip().splitlines()[-1:]}


def markdown(record: dict) -> str:
    lines = [
        "# Peak memory of `alignseg predict` on huge images",
        "",
        f"`{record['command']}`: sfnet_lite_r18 (random init, 11 classes), CamVid frame upscaled, CPU, "
        f"{record['cpus']} cores. Peak = maximum resident set size from `/usr/bin/time -v`.",
        "",
        "| image | pixels | --max-pixels | path | peak RSS (MB) | wall (s) | exit |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for row in record["results"]:
        path = "whole image" if row["max_pixels"] == "0" else "tiled (row bands)"
        lines.append(f"| {row['size']} | {row['pixels']:,} | {row['max_pixels']} | {path} | "
                     f"{row['peak_rss_mb']:.0f} | {row['wall_s']:.1f} | {row['exit_status']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["12:0", "12:default", "48:default"],
                        help="MEGAPIXELS:MAX_PIXELS (megapixels 1, 12 or 48; max pixels 0, N or default)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "predict_memory.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from bench_report import write_report

    cases = [(int(mp), max_pixels) for mp, max_pixels in (case.split(":") for case in args.cases)]
    results = []
    with tempfile.TemporaryDirectory(prefix="alignseg-memory-") as temporary:
        images, weights = make_inputs(Path(temporary), sorted({mp for mp, _ in cases}))
        for mp, max_pixels in cases:
            width, height = SIZES[mp]
            row = {"size": f"{width}x{height}", "pixels": width * height, "max_pixels": max_pixels,
                   **measure(images[mp], weights, max_pixels, Path(temporary) / f"out_{mp}_{max_pixels}")}
            print(row, flush=True)
            results.append(row)
    record = {"command": "python benchmarks/predict_memory.py " + shlex.join(argv if argv is not None else
                                                                             sys.argv[1:]),
              "cpus": os.cpu_count(), "results": results}
    record["command"] = record["command"].strip()
    write_report(record, args.output.with_suffix(".json"), markdown(record))
    print(f"wrote {args.output} and {args.output.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
