#!/usr/bin/env python
"""Regenerate the README pictures in ``docs/images/`` from real CamVid frames and a CamVid-trained run.

Everything goes through the user-facing commands (``alignseg predict``, ``eval --show-dir``, ``plot``),
so the pictures are exactly what a user gets; the script only picks one file of each kind, converts the
large RGB ones to JPEG (the palette PNG stays a PNG: it is small and its palette is the point) and checks
the total size. The run used for the committed pictures (half resolution, on a shared 2-core CPU; stopped by
hand during epoch 5 of 18, so model_best.safetensors is the epoch-4 model: val mIoU 31.4 at scale 0.5)::

    alignseg train --config configs/camvid/sfnet_lite_r18.yaml data.root=CAMVID data.crop_size=[96,128] \\
        data.scale_range=[0.375,0.625] loss.name=ce 'loss.kwargs={}' optim.name=adamw optim.lr=0.002 \\
        optim.weight_decay=0.0001 optim.no_decay_bn_bias=true schedule.warmup_iters=10 train.max_epochs=18 \\
        train.val_every_n_epochs=2 train.accelerator=cpu eval.scales=[0.5] train.output_dir=RUN
    python scripts/make_readme_pictures.py --run RUN --camvid CAMVID
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2
from PIL import Image

from alignseg.cli import main as alignseg

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALIGNSEG_SHARED", REPO.parent / "shared"))
IMAGE = "images/test/0001TP_008550.jpg"  # a street with road, cars, pavement, trees, buildings, sky
VIDEO_FRAMES = "images/val/0016E5_0*.jpg"  # consecutive frames, two video frames apart
MAX_BYTES = 1_500_000


def run(*argv: str) -> None:
    code = alignseg(list(argv))
    if code:
        raise SystemExit(f"alignseg {' '.join(argv)} failed with exit code {code}")


def save_jpeg(source: Path, target: Path, quality: int = 82) -> None:
    Image.open(source).convert("RGB").save(target, format="JPEG", quality=quality, optimize=True)


def make_video(frames: list[Path], path: Path, fps: float) -> None:
    first = cv2.imread(str(frames[0]))
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(cv2.imread(str(frame)))
    writer.release()


def middle_frame(video: Path) -> Image.Image:
    capture = cv2.VideoCapture(str(video))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.set(cv2.CAP_PROP_POS_FRAMES, count // 2)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read a frame of {video}")
    return Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="CamVid training run folder (weights, csv/)")
    parser.add_argument("--camvid", type=Path, default=SHARED / "data" / "camvid", help="CamVid folder")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "images", help="where the pictures go")
    parser.add_argument("--scale", type=float, default=0.5, help="test scale (the run trained at half size)")
    parser.add_argument("--frames", type=int, default=16, help="video: number of CamVid frames")
    args = parser.parse_args()
    weights = args.run / "model_best.safetensors"
    if not weights.is_file():
        weights = args.run / "model_last.safetensors"
    args.output.mkdir(parents=True, exist_ok=True)
    scale = str(args.scale)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        image = args.camvid / IMAGE
        run("predict", str(image), "--weights", str(weights), "--output", str(work / "predict"), "--flows",
            "--scales", scale, "--quiet")
        name = image.name
        shutil.copyfile(work / "predict" / f"{name}_color.png", args.output / "predict_color.png")
        save_jpeg(work / "predict" / f"{name}_overlay.png", args.output / "predict_overlay.jpg")
        save_jpeg(work / "predict" / f"{name}_flow0.png", args.output / "predict_flow.jpg")

        run("eval", "--config", str(args.run / "config.yaml"), "--weights", str(weights), "--root",
            str(args.camvid), "--show-dir", str(work / "eval"), "--workers", "0", f"eval.scales=[{scale}]")
        panel = work / "eval" / f"{sorted(args.camvid.glob('images/val/*.jpg'))[0].name}_eval.png"
        save_jpeg(panel, args.output / "eval_panel.jpg")

        run("plot", str(args.run), str(work / "eval"), "-o", str(work / "plots"))
        for png in (work / "plots").glob("*.png"):
            target = "curves.png" if png.name.endswith("curves.png") else "confusion.png"
            shutil.copyfile(png, args.output / target)

        frames = sorted(args.camvid.glob(VIDEO_FRAMES))[: args.frames]
        make_video(frames, work / "clip.mp4", fps=15.0)
        run("predict", str(work / "clip.mp4"), "--weights", str(weights), "--output", str(work / "video"),
            "--flows", "--scales", scale)
        middle_frame(work / "video" / "clip.mp4_overlay.mp4").save(args.output / "video_frame.jpg", quality=82)
    pictures = sorted(args.output.iterdir())
    total = sum(path.stat().st_size for path in pictures)
    for path in pictures:
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {path.stat().st_size / 1024:.0f} KiB")
    print(f"total {total / 1e6:.2f} MB")
    if total > MAX_BYTES:
        print(f"the README pictures take more than {MAX_BYTES / 1e6} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
