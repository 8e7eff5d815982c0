#!/usr/bin/env python
"""GPU speed table: inference FPS per runtime and training images/s, for a GPU machine (run via gpu.sh).

For each model (default sfnet_lite_r18, sfnet_r18, sfnet_stdc1, sfnet_df2, fapn_r18) at each size (default
1024x2048 and 512x1024), batch 1, on fresh weights with BatchNorm statistics calibrated
(``alignseg.deploy.loading.random_model``; speed does not depend on the weights) and
BatchNorm folded (``prepare_for_export``), the variants:

    eager-fp32          PyTorch eager, NCHW, TF32 off: the reference logits and the "× eager fp32" base
    eager-tf32          the same with TF32 convolutions and matmuls allowed (PyTorch's default for cuDNN)
    eager-fp16          the model in half precision
    eager-fp16-cl       half precision, channels-last weights and input
    cudagraph-fp16-cl   the previous one captured once in a CUDA graph and replayed
    compile-fp16-cl     torch.compile (Inductor, default mode) of eager-fp16-cl (--compile-models only)
    ort-cuda-fp32       ONNX Runtime, CUDAExecutionProvider, static export  (--ort-models, when it imports)
    ort-trt-fp16        ONNX Runtime, TensorrtExecutionProvider with fp16   (--trt-models, when available)

Every forward is timed between two CUDA events (``--warmup`` untimed forwards first, then ``--iters`` timed,
median and p10/p90); every variant's logits are compared with eager fp32 on the same seeded input (share of
pixels with the same argmax, max |diff|). Training: images/s of the real training step (the model in train
mode with its deep-supervision heads, the criterion of ``alignseg.losses.build_criterion`` with the zoo
entry's loss defaults, SGD) on random data, fp32 and bf16-mixed (autocast) with and without channels-last.
A time budget (``--budget-s``) skips what is left (recorded as skipped) so the script ends in time; the
variants that take minutes to set up (compile, ONNX Runtime, TensorRT) run last, after the training rows.

    bash benchmarks/gpu.sh                                  # everything, < 8 min on one recent GPU
    python benchmarks/gpu_bench.py --models sfnet_r18 --sizes 512x1024 --iters 20     # a quick look
    python benchmarks/gpu_bench.py --dry-run                # check the arguments and the GPU, run nothing

Writes benchmarks/results/gpu.json and gpu.md after every model (a cut-off run keeps what it measured).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ("sfnet_lite_r18", "sfnet_r18", "sfnet_stdc1", "sfnet_df2", "fapn_r18")
VARIANTS = ("eager-fp32", "eager-tf32", "eager-fp16", "eager-fp16-cl", "cudagraph-fp16-cl", "compile-fp16-cl",
            "ort-cuda-fp32", "ort-trt-fp16")
SLOW_VARIANTS = ("compile-fp16-cl", "ort-cuda-fp32", "ort-trt-fp16")  # minutes of set-up: run after the rest
TRAIN_CONFIGS = ("fp32", "bf16-mixed", "bf16-mixed-cl")


def size_pair(text: str) -> tuple[int, int]:
    """``"1024x2048"`` -> (1024, 2048); sides positive multiples of 32 (the models' output stride)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must look like HEIGHTxWIDTH, e.g. 1024x2048") from None
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        raise argparse.ArgumentTypeError(f"size {text!r}: both sides must be positive multiples of 32")
    return height, width


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="zoo names")
    parser.add_argument("--sizes", nargs="+", type=size_pair, default=[(1024, 2048), (512, 1024)],
                        metavar="HxW")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"any of {', '.join(VARIANTS)}")
    parser.add_argument("--compile-models", nargs="*", default=["sfnet_r18", "sfnet_lite_r18"],
                        help="models that get compile-fp16-cl (compiling takes ~30-60 s per model and size)")
    parser.add_argument("--ort-models", nargs="*", default=["sfnet_r18", "sfnet_lite_r18"],
                        help="models that get the ONNX Runtime CUDA provider")
    parser.add_argument("--trt-models", nargs="*", default=["sfnet_r18"],
                        help="models that get the TensorRT provider (an engine build takes minutes)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed forwards before timing")
    parser.add_argument("--iters", type=int, default=50, help="timed forwards (median reported)")
    parser.add_argument("--train-models", nargs="*", default=list(DEFAULT_MODELS), help="'' or none: no training")
    parser.add_argument("--train-size", type=size_pair, default=(1024, 1024), metavar="HxW",
                        help="training crop (SFNet's Cityscapes crop)")
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--train-steps", type=int, default=10, help="timed steps after 3 warm-up steps")
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting new work after this many seconds")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "gpu.json")
    parser.add_argument("--dry-run", action="store_true", help="check the arguments and the GPU, then stop")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parsed and checked arguments; a bad one exits with one message naming it (argparse's usage error)."""
    import alignseg

    parser = build_parser()
    args = parser.parse_args(argv)
    known = set(alignseg.list_models())
    for option in ("models", "compile_models", "ort_models", "trt_models", "train_models"):
        unknown = [name for name in getattr(args, option) if name and name not in known]
        if unknown:
            parser.error(f"--{option.replace('_', '-')}: unknown model(s) {', '.join(unknown)}; "
                         f"see `alignseg models` for the zoo")
        setattr(args, option, [name for name in getattr(args, option) if name])
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        parser.error(f"--variants: unknown {', '.join(bad)}; choose from {', '.join(VARIANTS)}")
    if "eager-fp32" not in args.variants:
        parser.error("--variants must include eager-fp32: it is the reference every other variant is compared with")
    for option in ("iters", "train_batch", "train_steps"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1 (got {getattr(args, option)})")
    if args.warmup < 0 or args.budget_s <= 0:
        parser.error(f"--warmup must be >= 0 and --budget-s > 0 (got {args.warmup} and {args.budget_s})")
    return args


def require_cuda() -> None:
    """Exit with one clear message when PyTorch sees no CUDA device."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(f"gpu_bench.py: no CUDA device: torch {torch.__version__} (CUDA build "
                         f"{torch.version.cuda or 'none'}) sees no GPU; run this on a GPU machine (benchmarks/gpu.sh)")


# -- timing ------------------------------------------------------------------------------------------------

def cuda_times(call: Callable[[], object], warmup: int, iters: int) -> list[float]:
    """Milliseconds of each of ``iters`` calls (CUDA events, synchronised) after ``warmup`` untimed ones."""
    import torch

    for _ in range(warmup):
        call()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        call()
        end.record()
        torch.cuda.synchronize()
        times.append(begin.elapsed_time(end))
    return times


def summary(times: list[float]) -> dict:
    """The latency statistics of ``alignseg bench`` records (interpolated percentiles), comparable with them."""
    import dataclasses

    from alignseg.deploy.bench import Latency

    return dataclasses.asdict(Latency.from_times(times, warmup=0))


# -- inference variants ------------------------------------------------------------------------------------

class CudaGraphForward:
    """One forward captured in a CUDA graph on a static input; a call copies the input in and replays."""

    def __init__(self, model, example):
        import torch

        self.input = example.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # cuDNN picks its algorithms outside the capture
                model(self.input)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.output = model(self.input)

    def __call__(self, x):
        self.input.copy_(x)
        self.graph.replay()
        return self.output


def ort_forward(model, size: tuple[int, int], provider: str, folder: str):
    """An ONNX Runtime session of a static export of ``model`` on ``provider``; returns a call on CUDA tensors
    bound with I/O binding (no host copies in the timed loop)."""
    import copy

    import numpy as np
    import onnxruntime as ort
    import torch

    from alignseg.deploy.onnx_graph import export_onnx

    if provider not in ort.get_available_providers():
        raise RuntimeError(f"onnxruntime {ort.__version__} has no {provider} (has {ort.get_available_providers()})")
    path = Path(folder) / f"model_{size[0]}x{size[1]}.onnx"
    if not path.is_file():  # one export per model and size, shared by the CUDA and TensorRT providers
        with torch.inference_mode(False), torch.no_grad():  # export a CPU copy; ``model`` stays on the GPU
            export_onnx(copy.deepcopy(model).float().cpu(), path, size=size, dynamic=False)
    options = {"trt_fp16_enable": True, "trt_engine_cache_enable": True,
               "trt_engine_cache_path": folder} if provider == "TensorrtExecutionProvider" else {}
    providers = [(provider, options)] + (["CUDAExecutionProvider"] if provider != "CUDAExecutionProvider" else [])
    session = ort.InferenceSession(str(path), providers=providers)
    name, output = session.get_inputs()[0].name, session.get_outputs()[0].name
    result = {}

    def call(x):
        x = x.float().contiguous()
        binding = session.io_binding()
        binding.bind_input(name, "cuda", 0, np.float32, tuple(x.shape), x.data_ptr())
        binding.bind_output(output, "cuda", 0)
        session.run_with_iobinding(binding)
        result["out"] = binding.get_outputs()[0]
        return result["out"]

    def logits(x):
        call(x)
        return torch.from_numpy(result["out"].numpy())

    return call, logits


def inference_rows(name: str, size: tuple[int, int], variants: list[str], args, deadline: float, log) -> list[dict]:
    """``variants`` of ``name`` at ``size``: latency, FPS and agreement with eager fp32 (TF32 off)."""
    import copy

    import torch

    from alignseg.deploy.export import compare_logits
    from alignseg.deploy.loading import random_model
    from alignseg.deploy.onnx_graph import prepare_for_export

    base = prepare_for_export(random_model(name)).cuda().eval()
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0)).cuda()
    half = copy.deepcopy(base).half()
    half_cl = copy.deepcopy(half).to(memory_format=torch.channels_last)
    x_cl = x.half().contiguous(memory_format=torch.channels_last)
    rows = []
    with tempfile.TemporaryDirectory(prefix="alignseg-gpu-") as folder, torch.inference_mode():
        reference = base(x).float()

        def build(variant: str) -> tuple[Callable[[], object], Callable[[], object]]:
            """(the timed call, a call returning the logits) of one variant."""
            if variant == "eager-fp32":
                return (lambda: base(x)), (lambda: base(x))
            if variant == "eager-tf32":
                def with_tf32():
                    torch.backends.cuda.matmul.allow_tf32 = True
                    with torch.backends.cudnn.flags(enabled=True, benchmark=True, deterministic=False,
                                                    allow_tf32=True):
                        out = base(x)
                    torch.backends.cuda.matmul.allow_tf32 = False
                    return out
                return with_tf32, with_tf32
            if variant == "eager-fp16":
                x_half = x.half()
                return (lambda: half(x_half)), (lambda: half(x_half))
            if variant == "eager-fp16-cl":
                return (lambda: half_cl(x_cl)), (lambda: half_cl(x_cl))
            if variant == "cudagraph-fp16-cl":
                graph = CudaGraphForward(half_cl, x_cl)
                return (lambda: graph(x_cl)), (lambda: graph(x_cl).clone())
            if variant == "compile-fp16-cl":
                compiled = torch.compile(half_cl)
                return (lambda: compiled(x_cl)), (lambda: compiled(x_cl))
            provider = {"ort-cuda-fp32": "CUDAExecutionProvider", "ort-trt-fp16": "TensorrtExecutionProvider"}
            timed, produce = ort_forward(base, size, provider[variant], folder)
            return (lambda: timed(x)), (lambda: produce(x))

        wanted = {"compile-fp16-cl": args.compile_models, "ort-cuda-fp32": args.ort_models,
                  "ort-trt-fp16": args.trt_models}
        for variant in variants:
            if variant in wanted and name not in wanted[variant]:
                continue
            row = {"model": name, "input_size": list(size), "batch": 1, "variant": variant}
            rows.append(row)
            if time.perf_counter() > deadline:
                row["skipped"] = "time budget (--budget-s) spent"
                continue
            start = time.perf_counter()
            try:
                timed, produce = build(variant)
                logits = produce().float()
                first_s = time.perf_counter() - start
                row["latency_ms"] = summary(cuda_times(timed, args.warmup, args.iters))
            except Exception as error:  # one variant failing (an op a runtime lacks) must not lose the table
                row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
                log(f"  {name} {size[0]}x{size[1]} {variant:18s} FAILED {row['error']}")
                continue
            row["fps"] = 1000.0 / row["latency_ms"]["median"]
            row["setup_s"] = first_s
            if variant == "eager-fp32":
                row["parity"] = None
            else:
                diff, agreement = compare_logits(reference, logits)
                row["parity"] = {"max_abs_diff": diff, "argmax_agreement": agreement}
            agree = "reference" if row["parity"] is None else f"{100 * row['parity']['argmax_agreement']:.3f}%"
            log(f"  {name} {size[0]}x{size[1]} {variant:18s} {row['latency_ms']['median']:8.2f} ms  "
                f"{row['fps']:8.1f} FPS  {agree}  (setup {first_s:.1f} s)")
    torch.cuda.empty_cache()
    return rows


# -- training ----------------------------------------------------------------------------------------------

def training_rows(name: str, args, deadline: float, log) -> list[dict]:
    """Images/s of the training step of ``name`` in each of TRAIN_CONFIGS, on random images and labels."""
    import torch

    from alignseg import create_model
    from alignseg.losses import build_criterion
    from alignseg.models.zoo import get_entry

    rows = []
    height, width = args.train_size
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(args.train_batch, 3, height, width, generator=generator).cuda()
    labels = torch.randint(0, 19, (args.train_batch, height, width), generator=generator).cuda()
    for config in TRAIN_CONFIGS:
        row = {"model": name, "config": config, "batch": args.train_batch, "input_size": [height, width]}
        rows.append(row)
        if time.perf_counter() > deadline:
            row["skipped"] = "time budget (--budget-s) spent"
            continue
        channels_last = config.endswith("-cl")
        torch.cuda.reset_peak_memory_stats()
        model = create_model(name, num_classes=19).cuda().train()
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        batch = images.contiguous(memory_format=torch.channels_last) if channels_last else images
        criterion = build_criterion(get_entry(name).loss_defaults, num_classes=19, align_corners=model.align_corners)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        bf16 = config.startswith("bf16")

        def step(model=model, batch=batch, criterion=criterion, optimizer=optimizer, bf16=bf16):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                loss, _ = criterion(model(batch), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss

        try:
            times = cuda_times(step, 3, args.train_steps)
            loss = step().item()
        except Exception as error:
            row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
            log(f"  train {name} {config:14s} FAILED {row['error']}")
            continue
        finally:
            del model, optimizer
            torch.cuda.empty_cache()
        row["step_ms"] = summary(times)
        row["images_per_s"] = args.train_batch * 1000.0 / row["step_ms"]["median"]
        row["last_loss"] = loss
        row["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
        log(f"  train {name} {config:14s} {row['step_ms']['median']:8.1f} ms/step  {row['images_per_s']:7.1f} images/s")
    return rows


# -- report ------------------------------------------------------------------------------------------------

def markdown(report: dict) -> str:
    env = report["environment"]
    lines = ["# GPU speed (benchmarks/gpu_bench.py)", "",
             f"Command: `{report['command']}`", "",
             f"GPU: {env.get('gpu', '?')}; torch {env['torch']}, CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, "
             f"onnxruntime {env.get('onnxruntime', 'absent')}. Fresh weights (BatchNorm calibrated, then folded); "
             "batch 1; CUDA-event timing of each forward, "
             f"{report['iters']} timed after {report['warmup']} warm-up, median; no I/O (input already on the GPU).",
             ""]
    sizes = []
    for row in report["inference"]:
        if row["input_size"] not in sizes:
            sizes.append(row["input_size"])
    for size in sizes:
        lines += [f"## Inference at {size[0]}×{size[1]}", "",
                  "| model | variant | median ms | p10–p90 ms | FPS | × eager fp32 | argmax agreement | max abs diff |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        order = {m: i for i, m in enumerate(dict.fromkeys(r["model"] for r in report["inference"]))}
        rows = sorted((r for r in report["inference"] if r["input_size"] == size),
                      key=lambda r: (order[r["model"]], VARIANTS.index(r["variant"])))
        base = {r["model"]: r["latency_ms"]["median"] for r in rows if r["variant"] == "eager-fp32" and "fps" in r}
        for r in rows:
            if "fps" not in r:
                lines.append(f"| {r['model']} | {r['variant']} | {r.get('skipped') or 'failed: ' + r['error'][:70]}"
                             " | | | | | |")
                continue
            lat, parity = r["latency_ms"], r["parity"]
            ratio = f"{base[r['model']] / lat['median']:.2f}" if r["model"] in base else "-"
            agreement = "reference" if parity is None else f"{100 * parity['argmax_agreement']:.3f}%"
            diff = "-" if parity is None else f"{parity['max_abs_diff']:.1e}"
            lines.append(f"| {r['model']} | {r['variant']} | {lat['median']:.2f} | {lat['p10']:.2f}–{lat['p90']:.2f} | "
                         f"{r['fps']:.1f} | {ratio} | {agreement} | {diff} |")
        lines.append("")
    if report["training"]:
        t = report["training"][0]
        lines += [f"## Training step ({t['batch']}×{t['input_size'][0]}×{t['input_size'][1]} random images, "
                  "train mode with deep supervision, zoo criterion, SGD; fp32 with TF32 off)", "",
                  "| model | precision | step median ms | images/s | peak GiB |", "|---|---|---:|---:|---:|"]
        for r in report["training"]:
            if "images_per_s" not in r:
                lines.append(f"| {r['model']} | {r['config']} | {r.get('skipped') or 'failed: ' + r['error'][:70]}"
                             " | | |")
                continue
            lines.append(f"| {r['model']} | {r['config']} | {r['step_ms']['median']:.1f} | {r['images_per_s']:.1f} | "
                         f"{r['peak_memory_gib']:.1f} |")
    return "\n".join(lines) + "\n"


def write(report: dict, out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_report import write_report

    write_report(report, out, markdown(report))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_cuda()
    import torch

    from alignseg.deploy.bench import environment

    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401  (recorded in the environment when present)
    if args.dry_run:
        print(f"arguments fine; GPU {torch.cuda.get_device_name(0)}; nothing run (--dry-run)")
        return 0
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32 (eager-tf32 turns TF32 on for its own row)
    torch.backends.cuda.matmul.allow_tf32 = False
    started = time.perf_counter()
    deadline = started + args.budget_s
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join(["python benchmarks/gpu_bench.py", *(argv if argv is not None else sys.argv[1:])]),
              "environment": environment("cuda"), "warmup": args.warmup, "iters": args.iters,
              "inference": [], "training": [],
              "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {line}", flush=True)

    log(f"GPU {report['environment'].get('gpu')}; budget {args.budget_s:.0f} s")
    quick = [v for v in args.variants if v not in SLOW_VARIANTS]
    slow = [v for v in args.variants if v in SLOW_VARIANTS]
    for size in args.sizes:
        for name in args.models:
            report["inference"] += inference_rows(name, size, quick, args, deadline, log)
            write(report, args.out)
    for name in args.train_models:
        report["training"] += training_rows(name, args, deadline, log)
        write(report, args.out)
    for size in args.sizes if slow else []:
        for name in args.models:
            report["inference"] += inference_rows(name, size, slow, args, deadline, log)
            write(report, args.out)
    report["seconds"] = time.perf_counter() - started
    write(report, args.out)
    log(f"done; wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
