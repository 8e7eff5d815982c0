"""``alignseg predict``: label maps, overlays and flow pictures for an image, a folder or a video."""

from __future__ import annotations

import argparse

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
"""


def run(args: argparse.Namespace) -> int:
    from ..predict import InferenceSettings, OutputOptions, Predictor, input_kind, predict_path

    options = OutputOptions(
        flows=args.flows,
        cityscapes_format=args.cityscapes_format,
        alpha=args.alpha,
        save_frames=args.save_frames,
        max_frames=args.max_frames,
        progress=not args.quiet,
    )
    settings = InferenceSettings(
        mode=args.mode,
        scales=tuple(args.scales),
        flip=args.flip,
        window=tuple(args.window) if args.window else None,
    )
    input_kind(args.input)  # a wrong input path fails before the model is built
    predictor = Predictor.from_checkpoint(
        args.weights,
        model=args.model,
        num_classes=args.num_classes,
        dataset=args.dataset,
        settings=settings,
        backend=args.backend,
        device=args.device,
        precision=args.precision,
        calibration=args.calibration,
    )
    summary = predict_path(predictor, args.input, args.output, options, progress=None if args.quiet else print)
    for note in summary.notes:
        print(f"note: {note}")
    what = f"{summary.frames} video frames" if summary.frames else f"{summary.images} images"
    print(
        f"predicted {what} with {predictor.model_name} in {summary.seconds:.1f} s: "
        f"{len(summary.files)} files under {args.output}"
    )
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict an image, a folder of images or a video with a trained model",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("input", help="an image, a folder of images (searched recursively) or a video file")
    predict.add_argument("--weights", required=True, help="alignseg checkpoint (.pt) written by train or convert")
    predict.add_argument("--output", required=True, help="folder to write the results to")
    predict.add_argument("--model", default=None, help="zoo model name (default: read from the checkpoint)")
    predict.add_argument(
        "--num-classes", type=_positive_int, default=None, help="number of classes (default: read from the checkpoint)"
    )
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
        type=_positive_int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="sliding-window tile size (needed with --mode sliding)",
    )
    predict.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    predict.add_argument("--backend", default="torch", choices=("torch", "onnxruntime", "openvino"),
                         help="torch (eager), or the model exported to onnxruntime / openvino (CPU)")
    predict.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "int8"),
                         help="bf16 runs exported backends in bfloat16 (fast on AMX CPUs); int8 quantises the "
                              "openvino model from --calibration images first")
    predict.add_argument("--calibration", default=None, metavar="DIR",
                         help="int8: folder of images of the target domain to calibrate on")
    predict.add_argument(
        "--cityscapes-format",
        action="store_true",
        help="also write Cityscapes label ids for the benchmark server (19-class models)",
    )
    predict.add_argument("--flows", action="store_true",
                         help="also write colour-coded semantic flows (videos: a flow panel beside the overlay)")
    predict.add_argument("--alpha", type=float, default=0.5, help="overlay opacity of the prediction")
    predict.add_argument("--max-frames", type=_positive_int, default=None, help="video: stop after N frames")
    predict.add_argument("--save-frames", action="store_true", help="video: also write the per-frame PNGs")
    predict.add_argument("--quiet", action="store_true", help="print only the summary")
    predict.set_defaults(func=run)
