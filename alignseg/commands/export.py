"""``alignseg export``: a zoo model with its weights → ONNX or OpenVINO IR, checked against PyTorch."""

from __future__ import annotations

import argparse
import sys
import time

from .common import HELP_FORMAT, add_model_argument, add_output, add_size, merge_model_name, tool_model


def run(args: argparse.Namespace) -> int:
    from ..deploy.export import ParityError, export_model

    merge_model_name(args)
    size = tuple(args.size)
    model, record = tool_model(args)
    record = record.replace(source=f"exported from {args.weights or 'random-init'}")
    start = time.perf_counter()
    calibration, check_images = _int8_images(args, size) if args.int8 else (None, None)
    min_agreement = args.min_agreement if args.min_agreement is not None else (0.995 if args.int8 else 0.999)
    try:
        report = export_model(
            model, args.output, format=args.format, size=size, opset=args.opset, dynamic=args.dynamic,
            exporter=args.exporter, check_sizes=[tuple(s) for s in args.check_size] if args.check_size else None,
            max_abs_diff=args.max_diff, min_agreement=min_agreement,
            noise_floor=None if args.no_noise_floor else args.noise_floor, threads=args.threads,
            record=record, check=not args.no_check, int8_calibration=calibration,
            int8_check_images=check_images,
        )
    except ParityError as exc:
        report = getattr(exc, "report", None)
        if report is not None:
            print(report.summary())
        print(f"alignseg export: error: parity check FAILED: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    if args.no_check:
        print("parity check skipped (--no-check)")
    print(f"wrote {report.path} in {time.perf_counter() - start:.1f} s")
    return 0


def _int8_images(args: argparse.Namespace, size: tuple[int, int]):
    """Calibration batches spread over ``--calibration`` and ``--check-count`` other images for the check."""
    from ..deploy.quantize import image_batch, list_images, spread

    if args.format != "openvino":
        raise ValueError("--int8 writes OpenVINO IR: add --format openvino")
    if args.calibration is None:
        raise ValueError("--int8 needs --calibration DIR: images of the target domain (e.g. the training images)")
    paths = list_images(args.calibration)
    chosen = spread(paths, args.calibration_count)
    used = set(chosen)
    others = [path for path in paths if path not in used]
    if not others and not args.no_check:
        raise ValueError(f"{args.calibration} has {len(paths)} images, all used for calibration: the parity check "
                         f"needs images it was not calibrated on (lower --calibration-count)")
    print(f"INT8: calibrating on {len(chosen)} of {len(paths)} images in {args.calibration}")
    calibration = [image_batch(path, size) for path in chosen]
    return calibration, [image_batch(path, size) for path in spread(others, args.check_count)] if others else []


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export", help="export a model to ONNX or OpenVINO IR (BN folded, aux heads removed) with parity checks",
        formatter_class=HELP_FORMAT,
        description="Export the eval network of a zoo model (deep-supervision heads removed, BatchNorm folded "
                    "into the convolutions), then run the export and PyTorch on random images at two sizes and "
                    "compare them. Exit status 1 (and no file written) when parity is not met. The weights' record "
                    "(model, classes, palette, normalisation) travels inside the file: `alignseg predict/eval/bench "
                    "--weights model.onnx|model.xml` run it as it is.",
    )
    add_model_argument(export)
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="model weights (.safetensors, .pt, .ckpt); model name and classes are read")
    source.add_argument("--random-init", action="store_true", help="fresh, untrained weights (to try the tool)")
    add_output(export, "output file: .onnx, or .xml for --format openvino", required=True)
    export.add_argument("--format", choices=("onnx", "openvino"), default="onnx")
    export.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17; 18 for --exporter dynamo)")
    export.add_argument("--exporter", choices=("legacy", "dynamo"), default="legacy",
                        help="torch.onnx exporter: TorchScript-based legacy (default) or dynamo (opset >= 18)")
    shape = export.add_mutually_exclusive_group()
    shape.add_argument("--dynamic", dest="dynamic", action="store_true", default=True,
                       help="symbolic batch, height and width (default)")
    shape.add_argument("--static", dest="dynamic", action="store_false", help="fixed batch 1 and --size")
    add_size(export, (1024, 2048), "input size traced at (the only size with --static)")
    export.add_argument("--seed", type=int, default=0, help="seed of --random-init weights")
    check = export.add_argument_group("parity check")
    check.add_argument("--check-size", type=int, nargs=2, action="append", metavar=("H", "W"),
                       help="size to check at (repeatable); default: ~3/4 and ~1/2 of --size, odd sides "
                            "(with --static: --size twice)")
    check.add_argument("--max-diff", type=float, default=1e-4, help="max |logit difference| allowed (default 1e-4)")
    check.add_argument("--min-agreement", type=float, default=None,
                       help="min share of pixels with the same argmax class (default 0.999; 0.995 with --int8)")
    check.add_argument("--noise-floor", type=float, default=2.0,
                       help="when --max-diff is missed (deep nets and large inputs carry more fp32 rounding than "
                            "1e-4), accept an export whose error from PyTorch float64 is at most this multiple of "
                            "PyTorch fp32's own error (default 2)")
    check.add_argument("--no-noise-floor", action="store_true", help="apply --max-diff strictly")
    check.add_argument("--threads", type=int, default=None, help="runtime threads for the check")
    check.add_argument("--no-check", action="store_true", help="skip the parity check (not recommended)")
    int8 = export.add_argument_group("INT8 (OpenVINO + NNCF post-training quantisation; extra alignseg[int8])")
    int8.add_argument("--int8", action="store_true",
                      help="quantise the OpenVINO IR to INT8, calibrated on --calibration images at --size; parity "
                           "is then checked on --check-count other images of that folder, by mean argmax agreement")
    int8.add_argument("--calibration", default=None, metavar="DIR", help="folder of images of the target domain")
    int8.add_argument("--calibration-count", type=int, default=32, help="images used for calibration (default 32)")
    int8.add_argument("--check-count", type=int, default=8,
                      help="other images of the folder the INT8 model is checked on; their mean argmax agreement "
                           "must reach --min-agreement (default 8)")
    export.set_defaults(func=run)
