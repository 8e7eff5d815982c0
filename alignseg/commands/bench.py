"""``alignseg bench``: parameters, GMACs, latency and FPS of a zoo model on one runtime."""

from __future__ import annotations

import argparse

from .common import HELP_FORMAT, add_model_argument, add_output, add_runtime, add_size, merge_model_name, tool_model


def run(args: argparse.Namespace) -> int:
    from ..deploy.bench import benchmark, format_record, validate_options, write_json
    from ..deploy.loading import random_model
    from ..deploy.profile import check_profilable, format_profile
    from ..deploy.quantize import calibration_for
    from ..deploy.runtimes import backend_for, exported_record, is_exported, resolve_device

    merge_model_name(args)
    exported = args.weights if args.weights is not None and is_exported(args.weights) else None
    backend = args.backend or (backend_for(exported) if exported else "eager")
    device = resolve_device(args.device) if backend in ("eager", "compile") else "cpu"
    # refuse impossible combinations before a model is built
    validate_options(backend, args.precision, device, compile=args.compile, cuda_graphs=args.cuda_graphs)
    if args.profile:
        check_profilable(backend, device, args.cuda_graphs)
    if args.profile_top < 0:
        raise ValueError(f"--profile-top must be >= 0, got {args.profile_top}")
    if args.runs < 1 or args.warmup < 0:
        raise ValueError(f"need --runs >= 1 and --warmup >= 0 (got {args.runs} and {args.warmup})")
    if exported is not None:  # the file runs as it is; a fresh model of the same architecture is only counted
        if backend not in ("onnxruntime", "openvino"):
            raise ValueError(f"{exported} is an exported model: run it with --backend onnxruntime or openvino")
        record = exported_record(exported)
        if record.model is None and args.model is None:
            raise ValueError(f"{exported} does not record its model (not written by alignseg export): pass --model")
        model = random_model(record.model or args.model, num_classes=record.num_classes, calibrate=False)
        name = record.model or args.model
    else:
        model, record = tool_model(args) if args.weights is not None else (None, None)
        name = record.model if record is not None else args.model
        if model is None:
            if name is None:
                raise ValueError("give a model name (alignseg bench sfnet_r18) or --weights FILE")
            model = random_model(name, num_classes=args.num_classes)
    calibration = calibration_for(args.precision, args.calibration, tuple(args.size), args.calibration_count)
    options = {}
    if args.channels_last:
        options["channels_last"] = True
    if args.fold_bn:
        options["fold_bn"] = True
    if args.mode:
        options["mode"] = args.mode
    if args.optimization:
        options["optimization"] = args.optimization
    result = benchmark(
        model, name=name, size=tuple(args.size), backend=backend, precision=args.precision, device=device,
        runs=args.runs, warmup=args.warmup, batch=args.batch, threads=args.threads, compile=args.compile,
        cuda_graphs=args.cuda_graphs, include_deform=args.include_deform,
        parity=not args.no_parity and exported is None, weights=args.weights, options=options,
        calibration=calibration, exported=exported, profile=args.profile, profile_top=args.profile_top,
    )
    if args.weights is None:
        print("weights: fresh, untrained (no --weights): speed is unaffected, parity figures are indicative only")
    elif exported is not None:
        print(f"weights: {exported} run as exported (no PyTorch weights: no parity check)")
    print(format_record(result))
    if "profile" in result:
        print(format_profile(result["profile"]))
    if args.output:
        write_json(result, args.output)
        print(f"wrote {args.output}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", help="latency, FPS, parameters and GMACs of a model on eager/compile/onnxruntime/openvino",
        description="Time batch-1 forwards of a zoo model (default 1024x2048) after warm-up on one runtime; report "
                    "parameters, GMACs (convs + matmuls, 1 MAC = 2 FLOPs), latency median/p10/p90/min, FPS and, "
                    "for non-eager-fp32 runtimes, parity with eager fp32. CUDA timing uses events and "
                    "synchronisation. --weights model.onnx|model.xml times an exported file as it is.",
        formatter_class=HELP_FORMAT,
    )
    add_model_argument(bench)
    bench.add_argument("--weights", default=None,
                       help="model weights (.safetensors, .pt, .ckpt) or an exported .onnx/.xml (default: fresh "
                            "weights of MODEL, same speed)")
    add_size(bench, (1024, 2048), "input size")
    bench.add_argument("--batch", type=int, default=1)
    add_runtime(bench, backend=None)
    bench.add_argument("--calibration-count", type=int, default=32, help="int8: images used (spread over DIR)")
    bench.add_argument("--runs", type=int, default=20, help="timed forwards")
    bench.add_argument("--warmup", type=int, default=3, help="untimed forwards first")
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
    bench.add_argument("--profile", action="store_true",
                       help="CPU: per-operator profile of --runs more forwards (runtime's own counters: time and "
                            "share per op type, GFLOP/s, kernel and precision each op ran in, slowest nodes)")
    bench.add_argument("--profile-top", type=int, default=15, help="--profile: how many slowest nodes to list")
    add_output(bench, "write the JSON record (schema in alignseg.deploy.bench) here")
    bench.set_defaults(func=run)
