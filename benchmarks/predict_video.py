#!/usr/bin/env python
"""End-to-end throughput of ``alignseg predict`` on a 720p video of CamVid frames, reading and writing included.

Makes a 1280x720 MPEG-4 (mp4v) video at 30 FPS from the first ``--frames`` CamVid test frames (360x480,
consecutive frames of one drive, stretched to 16:9 with bilinear resizing) under ``runs/predict_video/``
(git-ignored). For each model it exports OpenVINO IRs with ``alignseg export`` at the size ``predict`` runs
a 720p frame at (the whole frame, 720x1280: under the 8 Mpx tiling budget): fp32, and INT8 calibrated on
``--calibration`` images (CamVid train by default). Then it runs the real command line, in a subprocess,
once overlapped (decode and write threads around inference, the default) and once with ``--no-overlap``::

    alignseg predict VIDEO --weights W -o OUT --overwrite --quiet --device cpu --precision P [--no-overlap]

and reads back the throughput lines it prints: end-to-end FPS over the frames (decode of the mp4, inference,
overlay, mp4 encode, and the first call's OpenVINO compile, all included), inference-only FPS over the same
run, the share of wall time outside inference and the seconds per stage. ``warm inference FPS`` is
``Predictor.predict`` alone in this process after a warm-up frame (no compile, no I/O). The process column
is the whole command (start-up and model loading too).

Runtimes: OpenVINO INT8 (bf16 elsewhere where the CPU has it), OpenVINO bf16 (when the CPU has it) and fp32
from the fp32 IR, and eager PyTorch fp32 on ``--eager-frames`` frames (it is several times slower). The
output video is mp4v (``--video-codec mp4v``: fast to encode); INT8 also runs on ``--default-codec-frames``
frames into the default codec (H.264 where OpenCV has it, else VP9: OpenCV's VP9 takes seconds per frame).

    python benchmarks/predict_video.py                                  # the recorded run (~10 min, quiet machine)
    python benchmarks/predict_video.py --weights /work/main/runs/trained/sfnet_r18/model_best.safetensors
    python benchmarks/predict_video.py --models sfnet_lite_r18 --frames 4 --runtimes int8 \\
        --calibration-count 2 --out /tmp/pv                             # smoke test

Without ``--weights`` for a model its weights are fresh, with BatchNorm statistics from random images (speed
does not depend on them). Writes ``benchmarks/results/predict_video.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALIGNSEG_SHARED", "/work/shared"))
CAMVID = SHARED / "data" / "camvid" / "images"
SIZE = (720, 1280)
RUNTIMES = ("int8", "bf16", "fp32", "eager")
THROUGHPUT = re.compile(r"throughput: (\d+) frames in ([\d.]+) s = ([\d.]+) FPS end to end"
                        r".*inference alone ([\d.]+) FPS")
STAGES = re.compile(r"stages \(s\): decode ([\d.]+), preprocess\+inference ([\d.]+), overlay ([\d.]+), "
                    r"write ([\d.]+), inference waiting ([\d.]+)")


def make_video(frames: list[Path], path: Path, size: tuple[int, int] = SIZE, fps: float = 30.0) -> Path:
    """The frames resized to ``size`` (H, W), written as an mp4v video."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with mp4v")
    for frame in frames:
        writer.write(cv2.resize(cv2.imread(str(frame)), (size[1], size[0]), interpolation=cv2.INTER_LINEAR))
    writer.release()
    return path


def alignseg_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "alignseg", *arguments]


def run(command: list[str]) -> tuple[str, float]:
    """Run a command from the repository (this tree's alignseg), failing loudly; its stdout and wall seconds."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), "NO_ALBUMENTATIONS_UPDATE": "1"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout, seconds


def weights_for(model: str, given: dict[str, Path], work: Path) -> Path:
    """A checkpoint of ``model``: the one given, else fresh weights saved once under ``work``."""
    if model in given:
        return given[model]
    from alignseg.deploy.loading import random_model
    from alignseg.models.checkpoint import save_checkpoint

    path = work / f"{model}_fresh.safetensors"
    if not path.is_file():
        save_checkpoint(path, random_model(model, num_classes=11), model=model, num_classes=11,
                        source="fresh weights, BatchNorm from noise")
    return path


def export(weights: Path, target: Path, args: argparse.Namespace, int8: bool) -> tuple[Path, float]:
    """An OpenVINO IR of ``weights`` at ``SIZE`` (reused when newer than the weights); seconds spent."""
    if target.is_file() and target.stat().st_mtime > weights.stat().st_mtime and not args.fresh_exports:
        return target, 0.0
    command = alignseg_command("export", "--weights", str(weights), "--format", "openvino", "--size",
                               *map(str, SIZE), "-o", str(target))
    if int8:
        command += ["--int8", "--calibration", str(args.calibration), "--calibration-count",
                    str(args.calibration_count)]
    if not args.check:
        command.append("--no-check")
    _, seconds = run(command)
    return target, seconds


def warm_inference_fps(weights: Path, precision: str, video: Path, count: int) -> float:
    """``Predictor.predict`` per second on ``count`` frames after one warm-up frame, in this process."""
    import alignseg
    from alignseg.predict import read_video_frames

    frames = list(read_video_frames(video, count + 1))
    predictor = alignseg.Predictor.from_checkpoint(weights, precision=precision, device="cpu")
    try:
        predictor.predict(frames[0])
        start = time.perf_counter()
        for frame in frames[1:]:
            predictor.predict(frame)
        return (len(frames) - 1) / (time.perf_counter() - start)
    finally:
        predictor.close()


def fourcc(path: Path) -> str:
    """The codec of a video file, as its four characters."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    capture.release()
    return code.to_bytes(4, "little").decode("ascii", "replace")


def predict_once(video: Path, weights: Path, precision: str, frames: int, overlap: bool, codec: str | None,
                 out: Path) -> dict:
    """One ``alignseg predict`` of the video: the numbers it prints, and the process wall time."""
    load = os.getloadavg()[0]
    command = alignseg_command("predict", str(video), "--weights", str(weights), "-o", str(out), "--overwrite",
                               "--quiet", "--device", "cpu", "--precision", precision, "--max-frames", str(frames))
    command += ([] if overlap else ["--no-overlap"]) + (["--video-codec", codec] if codec else [])
    printed, process = run(command)
    throughput, stages = THROUGHPUT.search(printed), STAGES.search(printed)
    if throughput is None or stages is None:
        raise RuntimeError(f"no throughput lines in the output of {' '.join(command)}:\n{printed}")
    count, wall, fps, inference_fps = int(throughput[1]), *map(float, throughput.group(2, 3, 4))
    decode, infer, render, write, wait = map(float, stages.groups())
    return {"overlap": overlap, "codec": fourcc(out / f"{video.name}_overlay.mp4"), "frames": count,
            "wall_s": wall, "fps": fps, "inference_fps": inference_fps,
            "outside_inference": max(0.0, 1 - infer / wall) if wall else 0.0,
            "stages_s": {"decode": decode, "infer": infer, "render": render, "write": write, "wait": wait},
            "process_s": process, "load_before": load, "load_after": os.getloadavg()[0]}


def machine() -> dict:
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    info = {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version()}
    try:
        import openvino

        info["openvino"] = openvino.__version__
        info["openvino_capabilities"] = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except ImportError:
        pass
    return info


def report(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    env = results["machine"]
    lines = [
        f"# alignseg predict on a 720p video: end-to-end throughput ({env['cpu']}, {env['cores']} cores)", "",
        "`python benchmarks/predict_video.py` runs `alignseg predict VIDEO --weights W --precision P "
        "[--no-overlap]` in a subprocess on a 1280x720 mp4v video of consecutive CamVid test frames; the model "
        "runs on the whole frame (720x1280, batch 1). **I/O included**: end-to-end FPS counts decoding the "
        "video, inference, drawing the overlay and encoding the output video (and the first call's OpenVINO "
        "compile); `inference FPS` is frames over the inference seconds of the same run (preprocess, inference, "
        "arg-max); `warm inference FPS` is `Predictor.predict` alone after a warm-up frame. `outside inference`: "
        "share of the wall time not spent in inference. Output codec: mp4v (`--video-codec mp4v`, fast) except the "
        "rows with the default codec (H.264 where OpenCV can encode it, else VP9, whose encoder in OpenCV's "
        "wheels takes seconds per 720p frame: it holds frames back and encodes them when the file is closed, "
        "which is counted as writing). Overlapped: decode and write threads with bounded "
        "queues around inference (the default); sequential: `--no-overlap`. Stage seconds: decode / "
        "inference / overlay / write / inference waiting. Load: 1-minute load average before the run.",
        "", f"Weights: {results['weights']}. Machine: {env.get('openvino_capabilities', '')} OpenVINO "
        f"{env.get('openvino', '-')}, torch {env['torch']} ({env['torch_threads']} threads).", "",
        "| model | runtime | precision | input | frames | output codec | overlap | end-to-end FPS | inference FPS | "
        "warm inference FPS | outside inference | stages (s) | process (s) | load |",
        "|---|---|---|---|---:|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in results["rows"]:
        stages = " / ".join(f"{row['stages_s'][key]:.1f}" for key in ("decode", "infer", "render", "write", "wait"))
        lines.append(
            f"| {row['model']} | {row['runtime']} | {row['precision']} | {SIZE[0]}x{SIZE[1]} | {row['frames']} | "
            f"{row['codec']} | {'yes' if row['overlap'] else 'no'} | {row['fps']:.2f} | {row['inference_fps']:.2f} | "
            f"{row['warm_inference_fps']:.2f} | {100 * row['outside_inference']:.0f}% | {stages} | "
            f"{row['process_s']:.1f} | {row['load_before']:.1f} |")
    if results.get("exports"):
        spent = ", ".join(f"{name} {seconds:.0f}" for name, seconds in results["exports"].items())
        lines += ["", "Exports (s, `alignseg export` at 720x1280" + ("" if results["checked"] else ", --no-check")
                  + f"; 0: reused): {spent}"]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["sfnet_r18", "sfnet_lite_r18"])
    parser.add_argument("--weights", type=Path, action="append", default=[],
                        help="a trained checkpoint (repeatable; the model it holds uses it, the others fresh weights)")
    parser.add_argument("--frames", type=int, default=60, help="frames of the video")
    parser.add_argument("--eager-frames", type=int, default=12, help="frames predicted with eager PyTorch")
    parser.add_argument("--default-codec-frames", type=int, default=20,
                        help="frames predicted with INT8 into the default output codec (H.264, else VP9: slow to "
                             "encode); the other rows write mp4v. 0: skip")
    parser.add_argument("--warm-frames", type=int, default=8, help="frames timed for the warm inference FPS")
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES))
    parser.add_argument("--calibration", type=Path, default=CAMVID / "train", help="INT8 calibration images")
    parser.add_argument("--calibration-count", type=int, default=16)
    parser.add_argument("--check", action="store_true", help="run the exports' parity checks (slow at 720p)")
    parser.add_argument("--fresh-exports", action="store_true", help="export again even when the IRs exist")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "predict_video")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "predict_video")
    args = parser.parse_args(argv)
    frames = sorted((CAMVID / "test").glob("*.jpg"))[: args.frames]
    if not frames:
        print(f"no CamVid test frames under {CAMVID / 'test'}: skipped (set ALIGNSEG_SHARED)")
        return 0
    if "int8" in args.runtimes and not args.calibration.is_dir():
        print(f"no calibration images at {args.calibration}: INT8 skipped")
        args.runtimes = [runtime for runtime in args.runtimes if runtime != "int8"]
    from alignseg.models.checkpoint import read_checkpoint

    given = {read_checkpoint(path).record.model: path for path in args.weights}
    work = args.work
    video = make_video(frames, work / f"camvid_720p_{len(frames)}.mp4")
    print(f"video {video}: {len(frames)} frames 1280x720", flush=True)
    info = machine()
    runtimes = [r for r in args.runtimes if r != "bf16" or "BF16" in info.get("openvino_capabilities", [])]
    rows, exports = [], {}
    for model in args.models:
        weights = weights_for(model, given, work)
        cases = []  # (runtime, precision, weights file, frames, output codec)
        if "int8" in runtimes:
            xml, exports[f"{model} int8"] = export(weights, work / f"{model}_int8.xml", args, int8=True)
            cases.append(("openvino", "int8", xml, len(frames), "mp4v"))
            if args.default_codec_frames:  # the browser-playable default (H.264, else VP9), at its cost
                cases.append(("openvino", "int8", xml, min(args.default_codec_frames, len(frames)), None))
        if {"bf16", "fp32"} & set(runtimes):
            xml, exports[f"{model} fp32"] = export(weights, work / f"{model}_fp32.xml", args, int8=False)
            cases += [("openvino", precision, xml, len(frames), "mp4v") for precision in ("bf16", "fp32")
                      if precision in runtimes]
        if "eager" in runtimes:
            cases.append(("eager", "fp32", weights, min(args.eager_frames, len(frames)), "mp4v"))
        warm = {}
        for runtime, precision, source, count, codec in cases:
            if (runtime, precision) not in warm:
                warm[runtime, precision] = warm_inference_fps(source, precision, video, min(args.warm_frames, count))
            for overlap in (True, False):
                row = {"model": model, "runtime": runtime, "precision": precision, "input": list(SIZE),
                       **predict_once(video, source, precision, count, overlap, codec, work / "out"),
                       "warm_inference_fps": warm[runtime, precision]}
                rows.append(row)
                print(f"{model} {runtime} {precision} {row['codec']} overlap={overlap}: {row['fps']:.2f} FPS end to "
                      f"end, inference {row['inference_fps']:.2f} FPS (warm {row['warm_inference_fps']:.2f}), "
                      f"{100 * row['outside_inference']:.0f}% outside inference", flush=True)
    results = {"video": {"frames": len(frames), "size": [720, 1280], "codec": "mp4v", "source": str(CAMVID / "test")},
               "weights": ", ".join(f"{m}: {p}" for m, p in given.items()) or "fresh (speed does not depend on them)",
               "io_included": True, "checked": args.check, "exports": exports, "machine": info, "rows": rows}
    report(results, args.out)
    print(f"wrote {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
