"""``alignseg bench``: parameters, GMACs, latency and FPS of a zoo model on one runtime."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..deploy.bench import benchmark, format_record, validate_options, write_json
    from ..deploy.loading import load_model
    from ..deploy.quantize import calibration_for

    device = args.device
    # refuse impossible combinations before a model is built
    validate_options(args.backend, args.precision, device, compile=args.compile, cuda_graphs=args.cuda_graphs)
    if args.runs < 1 or args.warmup < 0:
        raise ValueError(f"need --runs >= 1 and --warmup >= 0 (got {args.runs} and {args.warmup})")
    calibration = calibration_for(args.precision, args.calibration, tuple(args.size), args.calibration_count)
    model = load_model(args.name, weights=args.weights, num_classes=args.num_classes,
                       random_init=args.weights is None)
    options = {}
    if args.channels_last:
        options["channels_last"] = True
    if args.fold_bn:
        options["fold_bn"] = True
    if args.mode:
        options["mode"] = args.mode
    if args.optimization:
        options["optimization"] = args.optimization
    record = benchmark(
        model, name=args.name, size=tuple(args.size), backend=args.backend, precision=args.precision, device=device,
        runs=args.runs, warmup=args.warmup, batch=args.batch, threads=args.threads, compile=args.compile,
        cuda_graphs=args.cuda_graphs, include_deform=args.include_deform, parity=not args.no_parity,
        weights=args.weights, options=options, calibration=calibration,
    )
    if args.weights is None:
        print("weights: fresh, untrained (no --weights): speed is unaffected, parity figures are indicative only")
    print(format_record(record))
    if args.json:
        write_json(record, args.json)
        print(f"wrote {args.json}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", help="latency, FPS, parameters and GMACs of a model on eager/compile/onnxruntime/openvino",
        description="Time batch-1 forwards of a zoo model (default 1024x2048) after warm-up on one runtime; report "
                    "parameters, GMACs (convs + matmuls, 1 MAC = 2 FLOPs), latency median/p10/p90/min, FPS and, "
                    "for non-eager-fp32 runtimes, parity with eager fp32. CUDA timing uses events and "
                    "synchronisation.",
    )
    bench.add_argument("name", help="zoo model name, e.g. sfnet_r18")
    bench.add_argument("--weights", default=None, help="alignseg checkpoint (default: fresh weights, same speed)")
    bench.add_argument("--num-classes", type=int, default=None, help="default: the checkpoint's, else 19")
    bench.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=(1024, 2048))
    bench.add_argument("--batch", type=int, default=1)
    bench.add_argument("--backend", default="eager", choices=("eager", "compile", "onnxruntime", "openvino"))
    bench.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16", "int8"),
                       help="eager/compile: autocast dtype; openvino: INFERENCE_PRECISION_HINT, or int8 (NNCF "
                            "post-training quantisation from --calibration images); onnxruntime: fp32")
    bench.add_argument("--calibration", default=None, metavar="DIR",
                       help="int8: folder of images of the target domain (e.g. the training images)")
    bench.add_argument("--calibration-count", type=int, default=32, help="int8: images used (spread over DIR)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda[:i] (openvino: cpu only)")
    bench.add_argument("--runs", type=int, default=20, help="timed forwards (default 20)")
    bench.add_argument("--warmup", type=int, default=3, help="untimed forwards first (default 3)")
    bench.add_argument("--threads", type=int, default=None,
                       help="torch threads / onnxruntime intra-op threads / openvino INFERENCE_NUM_THREADS")
    bench.add_argument("--compile", action="store_true", help="torch.compile the PyTorch model (= --backend compile)")
    bench.add_argument("--mode", default=None,
                       help="torch.compile mode: default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs")
    bench.add_argument("--cuda-graphs", action="store_true",
                       help="CUDA only: capture the forward in a CUDA graph (with --compile: mode reduce-overhead)")
    bench.add_argument("--channels-last", action="store_true", help="PyTorch backends: channels-last memory format")
    bench.add_argument("--fold-bn", action="store_true", help="PyTorch backends: fold BatchNorm into the convs first")
    bench.add_argument("--optimization", default=None, choices=("disable", "basic", "extended", "all"),
                       help="onnxruntime graph optimisation level (default all)")
    bench.add_argument("--include-deform", action="store_true",
                       help="count the deformable convolution's MACs (FaPN's paper leaves them out)")
    bench.add_argument("--no-parity", action="store_true", help="skip the comparison with eager fp32")
    bench.add_argument("--json", default=None, help="write the record (schema in alignseg.deploy.bench) here")
    bench.set_defaults(func=run)
