#!/usr/bin/env python
"""This CPU's attainable throughput: one large matmul and one large 3x3 convolution per precision and runtime.

Speed tables say "N× faster than eager fp32"; this script gives the ceiling they can be read against. Each
case runs one big operator (matmul M=N=K, default 2048; conv 3×3 stride 1 of a 1×C×H×W map to C channels,
default 256×128×256) repeatedly for about --seconds and reports the median and best time and TFLOP/s (TOPS
for INT8; 1 MAC = 2 operations) of each; the best is the attainable figure, the median shows how noisy the
machine was:

- PyTorch (oneDNN): fp32; bf16 (bf16 tensors, AMX where the CPU has it); INT8 matmul with ``torch._int_mm``
  and INT8 conv with a quantized ``Conv2d`` of the ``x86`` engine;
- OpenVINO: a one-operator model compiled with ``INFERENCE_PRECISION_HINT`` f32 and bf16, and an INT8 model
  (FakeQuantize on the activation and the weight, which OpenVINO's low-precision passes run in int8); the
  precision the plugin actually ran the operator in is read from its runtime graph and reported.

    python benchmarks/machine_peak.py                     # ~1 minute on 2 cores
    python benchmarks/machine_peak.py --quick             # small shapes, a smoke run

Writes benchmarks/results/machine_peak.json and .md (the machine: CPU model, cores, AMX/AVX-512 flags, load
average before and after; a load above the core count means the figures are low: rerun on a quiet machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import write_report

REPO = Path(__file__).resolve().parents[1]
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


def machine() -> dict:
    """CPU model, cores, relevant ISA flags, versions and the load average now."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    info = {"cpu": fields.get("Model name", "?").strip(), "cpus": os.cpu_count(),
            "cores_per_socket": fields.get("Core(s) per socket", "?").strip(),
            "flags": [f for f in FLAGS if f in flags], "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "load_average": list(os.getloadavg())}
    try:
        import openvino

        info["openvino"] = openvino.__version__
    except ImportError:
        pass
    return info


def timed(call: Callable[[], object], seconds: float, min_runs: int = 3) -> tuple[float, float]:
    """Median and best seconds of ``call`` after one warm-up call, repeated for about ``seconds`` (at least
    ``min_runs`` times)."""
    call()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < min_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def matmul_ops(n: int) -> float:
    return 2.0 * n ** 3


def conv_ops(c: int, h: int, w: int) -> float:
    return 2.0 * c * c * 9 * h * w


# -- PyTorch -----------------------------------------------------------------------------------------------

def torch_cases(n: int, conv: tuple[int, int, int]) -> dict[tuple[str, str], tuple[Callable[[], object], str]]:
    """(op, precision) -> (a no-argument call running that operator once in PyTorch, the operands' dtype)."""
    c, h, w = conv
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    x, k = torch.randn(1, c, h, w, generator=g), torch.randn(c, c, 3, 3, generator=g) * 0.05
    a16, b16 = a.bfloat16(), b.bfloat16()
    x16, k16 = x.bfloat16().contiguous(memory_format=torch.channels_last), k.bfloat16()
    xcl = x.contiguous(memory_format=torch.channels_last)
    a8 = torch.randint(-128, 127, (n, n), dtype=torch.int8, generator=g)
    b8 = torch.randint(-128, 127, (n, n), dtype=torch.int8, generator=g)
    cases = {
        ("matmul", "fp32"): lambda: a @ b,
        ("matmul", "bf16"): lambda: a16 @ b16,
        ("matmul", "int8"): lambda: torch._int_mm(a8, b8),
        ("conv3x3", "fp32"): lambda: F.conv2d(xcl, k, padding=1),
        ("conv3x3", "bf16"): lambda: F.conv2d(x16, k16, padding=1),
    }
    qconv = quantized_conv(x, k)
    if qconv is not None:
        cases[("conv3x3", "int8")] = qconv
    dtypes = {"fp32": "f32", "bf16": "bf16", "matmul int8": "i8 (torch._int_mm)",
              "conv3x3 int8": "u8×i8 (x86 quantized engine)"}
    return {(op, precision): (call, dtypes.get(f"{op} {precision}", dtypes.get(precision)))
            for (op, precision), call in cases.items()}


def quantized_conv(x: torch.Tensor, k: torch.Tensor) -> Callable[[], object] | None:
    """An INT8 3×3 conv (quint8 activation, qint8 weight) on the ``x86`` quantized engine, or None."""
    if "x86" not in torch.backends.quantized.supported_engines:
        return None
    torch.backends.quantized.engine = "x86"
    from torch.ao.nn.quantized import Conv2d

    conv = Conv2d(k.shape[1], k.shape[0], 3, padding=1)
    conv.set_weight_bias(torch.quantize_per_tensor(k, float(k.abs().max()) / 127, 0, torch.qint8), None)
    conv.scale, conv.zero_point = 0.05, 128
    qx = torch.quantize_per_tensor(x, float(x.abs().max()) / 127, 128, torch.quint8)
    qx = qx.contiguous(memory_format=torch.channels_last)
    return lambda: conv(qx)


# -- OpenVINO ----------------------------------------------------------------------------------------------

def _fake_quantize(ops, node, low: float, high: float, levels: int):
    """A FakeQuantize of ``node`` to ``levels`` levels over [low, high]."""
    lo, hi = ops.constant(np.float32(low)), ops.constant(np.float32(high))
    return ops.fake_quantize(node, lo, hi, lo, hi, levels)


def openvino_model(op: str, shape: tuple[int, ...], weight: np.ndarray, int8: bool):
    """A one-operator OpenVINO model: activation (Parameter) times a constant weight. ``int8``: the activation
    quantised to 256 signed levels and the weight to 255 symmetric ones, the pattern OpenVINO's
    low-precision passes run as an i8 × i8 kernel (a 256-level weight stays in float)."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter(shape, ov.Type.f32, name="x")
    source, kernel = x, ops.constant(weight)
    if int8:
        limit = float(np.abs(weight).max())
        source = _fake_quantize(ops, x, -4.0, 4.0 * 127 / 128, 256)
        kernel = _fake_quantize(ops, kernel, -limit, limit, 255)
    if op == "matmul":
        y = ops.matmul(source, kernel, False, False)
    else:
        y = ops.convolution(source, kernel, [1, 1], [1, 1], [1, 1], [1, 1])
    return ov.Model([y], [x], f"peak_{op}")


def executed_precision(compiled) -> str:
    """The precision OpenVINO's CPU plugin runs the model's matmul/convolution in (its runtime graph)."""
    for node in compiled.get_runtime_model().get_ordered_ops():
        info = node.get_rt_info()
        if info["layerType"].astype(str) in ("FullyConnected", "MatMul", "Convolution"):
            return info["runtimePrecision"].astype(str)
    return "?"


def openvino_cases(n: int, conv: tuple[int, int, int]) -> dict[tuple[str, str], tuple[Callable[[], object], str]]:
    """(op, precision) -> (a call running the compiled one-operator model once, the precision it runs in)."""
    import openvino as ov

    core = ov.Core()
    rng = np.random.default_rng(0)
    c, h, w = conv
    inputs = {"matmul": ((n, n), rng.standard_normal((n, n), dtype=np.float32)),
              "conv3x3": ((1, c, h, w), (0.05 * rng.standard_normal((c, c, 3, 3))).astype(np.float32))}
    cases = {}
    for op, (shape, weight) in inputs.items():
        data = rng.standard_normal(shape, dtype=np.float32)
        for precision in ("fp32", "bf16", "int8"):
            model = openvino_model(op, shape, weight, int8=precision == "int8")
            hint = {"fp32": "f32", "bf16": "bf16", "int8": "bf16"}[precision]
            compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                          "PERFORMANCE_HINT": "LATENCY"})
            request = compiled.create_infer_request()
            cases[(op, precision)] = (lambda request=request, data=data: request.infer({0: data}),
                                      executed_precision(compiled))
    return cases


def markdown(report: dict) -> str:
    m = report["machine"]
    load_before, load_after = report["load_average_before"], report["load_average_after"]
    lines = [
        "# Machine peak: attainable matmul / 3x3 conv throughput on this CPU", "",
        f"CPU: {m['cpu']}, {m['cpus']} CPUs, flags {', '.join(m['flags'])}; torch {m['torch']} "
        f"({m['torch_threads']} threads), OpenVINO {m.get('openvino', 'absent')}.",
        f"Load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (1 min). " + (
            f"**Measured on a busy machine (load {load_before[0]:.0f} on {m['cpus']} CPUs before it started) "
            "— rerun on a quiet one**: these figures are a lower bound." if load_before[0] > 0.5 * m["cpus"]
            else "Quiet machine (the load after is this script's own)."),
        f"Shapes: matmul {report['matmul_n']}³; conv 3×3 1×{report['conv'][0]}×{report['conv'][1]}×"
        f"{report['conv'][2]} → {report['conv'][0]} channels. 1 MAC = 2 ops; INT8 in TOPS.", "",
        f"Command: `{report['command']}`", "",
        "| op | precision | runtime | ran in | median ms | best ms | TFLOP/s (TOPS), best | at median | "
        "× fp32 same runtime |", "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    fp32 = {(r["op"], r["runtime"]): r["tflops"] for r in report["results"] if r.get("precision") == "fp32"
            and "tflops" in r}
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['op']} | {r['precision']} | {r['runtime']} | | failed: {r['error'][:60]} | | | | | |")
            continue
        base = fp32.get((r["op"], r["runtime"]))
        ratio = f"{r['tflops'] / base:.1f}" if base else "-"
        lines.append(f"| {r['op']} | {r['precision']} | {r['runtime']} | {r['executed_as']} | {r['ms']:.2f} | "
                     f"{r['best_ms']:.2f} | "
                     f"{r['tflops']:.3f} | {r['tflops_median']:.3f} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matmul-n", type=int, default=2048, help="M = N = K of the matmul")
    parser.add_argument("--conv", type=int, nargs=3, default=(256, 128, 256), metavar=("C", "H", "W"))
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent on each case")
    parser.add_argument("--runtimes", nargs="+", default=["torch", "openvino"], choices=["torch", "openvino"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "machine_peak.json")
    parser.add_argument("--quick", action="store_true", help="smoke run: matmul 256, conv 32x32x32, 0.1 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.matmul_n, args.conv, args.seconds = 256, (32, 32, 32), 0.1
    if args.matmul_n < 16 or min(args.conv) < 4 or args.seconds <= 0:
        parser.error("--matmul-n must be >= 16, --conv sides >= 4 and --seconds > 0")
    conv = tuple(args.conv)
    ops_of = {"matmul": matmul_ops(args.matmul_n), "conv3x3": conv_ops(*conv)}
    before = list(os.getloadavg())
    results = []
    builders = {"torch": torch_cases, "openvino": openvino_cases}
    for runtime in args.runtimes:
        try:
            cases = builders[runtime](args.matmul_n, conv)
        except ImportError as error:
            print(f"{runtime}: not available ({error})")
            continue
        for (op, precision), (call, executed) in cases.items():
            try:
                median, best = timed(call, args.seconds)
            except Exception as error:  # one unsupported case must not lose the table
                results.append({"op": op, "precision": precision, "runtime": runtime, "error": str(error)})
                print(f"{op:8s} {precision:5s} {runtime:9s} FAILED {type(error).__name__}: {str(error)[:200]}")
                continue
            tflops = ops_of[op] / best / 1e12
            results.append({"op": op, "precision": precision, "runtime": runtime, "executed_as": executed,
                            "ms": 1000 * median,
                            "best_ms": 1000 * best, "tflops": tflops, "tflops_median": ops_of[op] / median / 1e12})
            print(f"{op:8s} {precision:5s} {runtime:9s} median {1000 * median:9.2f} ms  best {1000 * best:9.2f} ms  "
                  f"{tflops:7.3f} TFLOP/s  ran in {executed}", flush=True)
    report = {"machine": machine(), "load_average_before": before, "load_average_after": list(os.getloadavg()),
              "matmul_n": args.matmul_n, "conv": list(conv), "seconds_per_case": args.seconds,
              "command": "python benchmarks/machine_peak.py" + (" " + " ".join(argv) if argv else
                                                                 " " + " ".join(sys.argv[1:])).rstrip(),
              "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "results": results}
    md = markdown(report)
    print("\n" + md + f"\nwrote {args.out} and {write_report(report, args.out, md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
