"""``alignseg predict``: label maps, overlays and flow pictures for an image, a folder or a video."""

from __future__ import annotations

import argparse
import sys

from .common import HELP_FORMAT, add_model, add_output, add_runtime, positive_int


class PredictHelp(HELP_FORMAT, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, and the epilog's table of outputs kept as written."""

EPILOG = """\
outputs, per image file <file> (its whole name, e.g. frame.jpg; folder inputs keep their sub-folders):
  <file>_ids.png       class ids, single-channel 8-bit (what tools read)
  <file>_color.png     the same class ids with the class colours embedded (palette PNG: opens in colour)
  <file>_overlay.png   prediction blended over the image, with a legend of the classes in it
  <file>_flow{i}.png   colour-coded semantic flows with the colour wheel and its radius in pixels (--flows)
  cityscapes_results/<stem>_labelIds.png   Cityscapes label ids for the benchmark (--cityscapes-format)
a video <file> gives <file>_overlay.mp4 (H.264 where OpenCV can encode it, else VP9, else mp4v, with a note;
with --flows the first flow field beside the overlay), and the files above per frame in <file>_frames/
(--save-frames). A progress bar goes to stderr (plain lines when stderr is not a terminal).
A rerun skips the images whose outputs exist (--overwrite redoes them); outputs found among the inputs (an
output folder inside the input folder) are never predicted. An unreadable image is reported on stderr and
skipped; a video whose decoded frames fall short of the container's count fails. Either way the good outputs
are written, the failures listed at the end, and the exit status is 1. A full disk or a read-only output
folder stops the run at the first file it cannot write (one line, exit status 2; the files before it are whole).
Decoding and writing run on their own threads while the model predicts (--no-overlap: one after another); the
run ends with its end-to-end FPS (reading and writing included) and the seconds spent in each stage.
"""


def run(args: argparse.Namespace) -> int:
    from ..predict import InferenceSettings, OutputOptions, Predictor, input_kind, predict_path
    from ..predict.predictor import MAX_PIXELS

    options = OutputOptions(
        flows=args.flows,
        cityscapes_format=args.cityscapes_format,
        alpha=args.alpha,
        save_frames=args.save_frames,
        max_frames=args.max_frames,
        progress=not args.quiet,
        overwrite=args.overwrite,
        overlap=not args.no_overlap,
        video_codec=args.video_codec,
    )
    settings = InferenceSettings(mode=args.mode, scales=list(args.scales), flip=args.flip, window=args.window).check()
    input_kind(args.input)  # a wrong input path fails before the model is built
    predictor = Predictor.from_checkpoint(
        args.weights, model=args.model, num_classes=args.num_classes, dataset=args.dataset, settings=settings,
        backend=args.backend, device=args.device, precision=args.precision, calibration=args.calibration,
        threads=args.threads, max_pixels=MAX_PIXELS if args.max_pixels is None else args.max_pixels or None,
    )
    summary = predict_path(predictor, args.input, args.output, options, progress=None if args.quiet else print,
                           report=lambda line: print(line, file=sys.stderr, flush=True))
    for note in summary.notes:
        print(f"note: {note}")
    what = f"{summary.frames} video frames" if summary.frames else f"{summary.images} images"
    print(
        f"predicted {what} with {predictor.model_name} in {summary.seconds:.1f} s: "
        f"{len(summary.files)} files under {args.output}"
        + (f"; {summary.done} already done (--overwrite redoes them)" if summary.done else "")
    )
    if summary.timing is not None and summary.timing.frames:
        print("\n".join(summary.timing.lines()))
    if summary.failed:
        print(f"{len(summary.failed)} input(s) failed:", file=sys.stderr)
        for line in summary.failed:
            print(f"  {line}", file=sys.stderr)
    if summary.stopped:  # a full disk or read-only folder: the files above are whole, a rerun goes on from there
        print(f"alignseg predict: error: {summary.stopped}; the outputs of the {summary.images + summary.frames} "
              "input(s) finished before it are whole and a rerun skips them", file=sys.stderr)
        return 2
    return 1 if summary.failed else 0


def register(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict an image, a folder of images or a video with a trained model",
        epilog=EPILOG,
        formatter_class=PredictHelp,
    )
    predict.add_argument("input", help="an image, a folder of images (searched recursively) or a video file")
    predict.add_argument("--weights", required=True,
                         help="model_best.safetensors (train, convert), an older .pt/.ckpt, or an exported .onnx / "
                              "OpenVINO .xml (alignseg export), which runs as it is")
    add_output(predict, "folder to write the results to", required=True)
    add_model(predict)
    predict.add_argument(
        "--dataset",
        choices=("cityscapes", "camvid"),
        default=None,
        help="use this dataset's palette and class names (default: the checkpoint's, else generated colours)",
    )
    predict.add_argument("--mode", choices=("whole", "sliding"), default="whole", help="inference mode")
    predict.add_argument("--scales", type=float, nargs="+", default=[1.0], help="test scales, logits averaged")
    predict.add_argument("--flip", action="store_true", help="also average the horizontally flipped image")
    predict.add_argument(
        "--window",
        type=positive_int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="sliding-window tile size (needed with --mode sliding)",
    )
    add_runtime(predict, backend=None)
    predict.add_argument(
        "--max-pixels", type=int, default=None, metavar="N",
        help="images over N pixels (default 8000000) are predicted in row bands of sliding-window tiles (a tile "
             "of a quarter of N: memory bounded by the tile, not the image); 0: always the whole image at once")
    predict.add_argument(
        "--cityscapes-format",
        action="store_true",
        help="also write Cityscapes label ids for the benchmark server (19-class models)",
    )
    predict.add_argument("--flows", action="store_true",
                         help="also write colour-coded semantic flows (videos: a flow panel beside the overlay)")
    predict.add_argument("--alpha", type=float, default=0.5, help="overlay opacity of the prediction")
    predict.add_argument("--max-frames", type=positive_int, default=None, help="video: stop after N frames")
    predict.add_argument(
        "--video-codec", choices=("h264", "vp9", "mp4v"), default=None,
        help="video: the output codec (default: H.264 where OpenCV can encode it, else VP9, else mp4v). OpenCV's "
             "VP9 encoder is slow (seconds per 720p frame on 2 cores); mp4v is fast but most browsers do not play it")
    predict.add_argument("--save-frames", action="store_true", help="video: also write the per-frame PNGs")
    predict.add_argument("--overwrite", action="store_true", help="predict again the inputs whose outputs exist")
    predict.add_argument("--no-overlap", action="store_true",
                         help="decode, predict and write one input after another (default: decoding and writing run "
                              "on their own threads, alongside inference; for comparing throughput)")
    predict.add_argument("--quiet", action="store_true", help="print only the summary")
    predict.set_defaults(func=run)
