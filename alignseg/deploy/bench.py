"""Speed benchmark: parameters, GMACs, latency and FPS of one model on one runtime, as a table and JSON.

Protocol (spec/sfnet.md 4.7 measures FPS at 1024×2048 after warm-up; the papers' own timers did not
synchronise the GPU, ours do): batch 1 (``batch``) of a seeded random image at ``size`` (default
1024×2048), ``warmup`` untimed forwards, then ``runs`` timed forwards, each timed on its own. On the
CPU a forward is timed with ``time.perf_counter``; on CUDA between two CUDA events with a
``torch.cuda.synchronize()`` after each forward (so the time is the GPU's, not the launch's). FPS =
batch × 1000 / median latency in ms. A backend other than eager fp32 is also compared with eager
fp32 PyTorch on the same image (``parity``).

JSON record (``schema_version`` 1); ``alignseg bench -o FILE`` writes one record, ``benchmarks/bench_cpu.py``
a list of them::

    schema_version   int, 1
    model            str, zoo name
    weights          str, checkpoint path or "random-init"
    input_size       [H, W]
    batch            int
    backend          str: eager | compile | onnxruntime | openvino
    runner           str, the runner's description ("openvino bf16 cpu (2 threads)")
    precision        str: fp32 | bf16 | fp16 | int8
    device           str: cpu | cuda[:i]
    options          dict, the runner options used (channels_last, mode, threads, calibration_images, ...)
    params           int, all parameters (train-only deep-supervision heads included)
    params_used      int, parameters used at eval
    gmacs            float, multiply-accumulates of one image at input_size, in 1e9
    mac_convention   str, what gmacs counts
    latency_ms       {median, p10, p90, min, mean, runs, warmup}: floats in ms, runs/warmup ints
    fps              float
    setup_s          float, seconds to build the runner (export, compile) before the first call
    first_call_ms    float, the first (untimed) forward: graph compilation, autotuning
    parity           null for eager fp32, else {reference, input, max_abs_diff, argmax_agreement}
                     (max_abs_diff null when class ids were timed)
    output           optional: "class ids" when ``runner.labels`` was timed (``--labels``), absent for logits
    environment      {torch, python, platform, cpu, cpu_count, threads, cpu_flags, load_average, ...}
    timestamp        str, ISO 8601 UTC
    profile          optional (``--profile``; absent otherwise): the per-operator profile of ``runs`` more
                     forwards of the same runner, built with the runtime's profiling on (so ``latency_ms`` is
                     timed with it on too), as ``alignseg.deploy.profile`` describes: {source, runs, warmup,
                     wall_ms, ops_ms, gap_ms, gmacs, by_type: [rows], top_nodes: [rows]}

The optional key is an addition within schema version 1: records without it are unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..fileio import atomic_write
from .complexity import count_macs, count_parameters
from .profile import DEFAULT_TOP, check_profilable, profile_runner, validate_profile
from .runtimes import BACKENDS, Runner, build_runner, canonical_backend, check_precision

SCHEMA_VERSION = 1
RECORD_KEYS = ("schema_version", "model", "weights", "input_size", "batch", "backend", "runner", "precision",
               "device", "options", "params", "params_used", "gmacs", "mac_convention", "latency_ms", "fps",
               "setup_s", "first_call_ms", "parity", "environment", "timestamp")
OPTIONAL_KEYS = ("profile", "output")
LATENCY_KEYS = ("median", "p10", "p90", "min", "mean", "runs", "warmup")
_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8", "amx_tile")


@dataclass(frozen=True)
class Latency:
    """Statistics of the timed forwards, in milliseconds."""

    median: float
    p10: float
    p90: float
    min: float
    mean: float
    runs: int
    warmup: int

    @classmethod
    def from_times(cls, times_ms: Sequence[float], warmup: int) -> Latency:
        ordered = sorted(times_ms)
        return cls(statistics.median(ordered), _percentile(ordered, 10), _percentile(ordered, 90), ordered[0],
                   statistics.fmean(ordered), len(ordered), warmup)


def _percentile(ordered: Sequence[float], percent: float) -> float:
    """Linear-interpolation percentile of sorted values (numpy's default method)."""
    position = (len(ordered) - 1) * percent / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mac_convention(include_deform: bool) -> str:
    deform = "included" if include_deform else "excluded (as FaPN's paper counts)"
    return ("convolutions and matrix products only (torch FlopCounterMode: bias, BN, activations, pooling, "
            f"interpolation and grid_sample are free); 1 MAC = 2 FLOPs; deformable convolution {deform}; "
            "deep-supervision heads not run")


def complexity(model: nn.Module, size: tuple[int, int], *, batch: int = 1,
               include_deform: bool = False) -> dict[str, float | int]:
    """``params``, ``params_used`` and ``gmacs`` (per image) of ``model`` at ``size``."""
    from ..models.ops.deform_conv import ModulatedDeformConv2d

    exclude = () if include_deform else (ModulatedDeformConv2d,)
    macs = count_macs(model, tuple(size), batch=1, exclude=exclude)
    return {"params": count_parameters(model, used_at_eval=False),
            "params_used": count_parameters(model, used_at_eval=True),
            "gmacs": macs / 1e9}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in _CPU_FLAGS if flag in present]
    except OSError:
        pass
    return []


def environment(device: str = "cpu") -> dict:
    """Versions, CPU/GPU and load of the machine a benchmark ran on."""
    import sys

    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "cpu_flags": _cpu_flags(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    for module in ("onnxruntime", "openvino", "onnx"):
        if module in sys.modules and sys.modules[module] is not None:
            info[module] = getattr(sys.modules[module], "__version__", "?")
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        info["gpu"] = torch.cuda.get_device_name(index)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def time_runner(runner: Runner, image: Tensor, *, runs: int, warmup: int, device: str = "cpu",
                labels: bool = False) -> tuple[Latency, float, Tensor]:
    """Time ``runs`` forwards after ``warmup``; returns the statistics, the first call's ms and the logits (the
    class ids with ``labels``: ``runner.labels`` is timed, the product when only labels are wanted)."""
    forward = runner.labels if labels else runner
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0 (got runs={runs}, warmup={warmup})")
    cuda = device.startswith("cuda")
    if cuda:
        image = image.to(device)
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    logits = forward(image)
    if cuda:
        torch.cuda.synchronize(device)
    first_ms = (time.perf_counter() - start) * 1000
    for _ in range(max(warmup - 1, 0)):
        forward(image)
    times = []
    for _ in range(runs):
        if cuda:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            forward(image)
            end.record()
            torch.cuda.synchronize(device)
            times.append(begin.elapsed_time(end))
        else:
            begin_s = time.perf_counter()
            forward(image)
            times.append((time.perf_counter() - begin_s) * 1000)
    return Latency.from_times(times, warmup), first_ms, logits


def validate_options(backend: str, precision: str, device: str, *, compile: bool = False,
                     cuda_graphs: bool = False) -> str:
    """Check a backend/precision/device combination before anything is built; returns the backend name."""
    backend = canonical_backend(backend)
    if compile:
        if backend not in ("eager", "compile"):
            raise ValueError(f"--compile applies to the PyTorch backends, not {backend}")
        backend = "compile"
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}: choose cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA device is available to PyTorch here")
    if cuda_graphs:
        if not device.startswith("cuda"):
            raise ValueError("--cuda-graphs needs --device cuda")
        if backend not in ("eager", "compile"):
            raise ValueError(f"--cuda-graphs applies to the PyTorch backends, not {backend}")
    check_precision(backend, precision, device)
    return backend


def benchmark(
    model: nn.Module,
    *,
    name: str,
    size: tuple[int, int] = (1024, 2048),
    backend: str = "eager",
    precision: str = "fp32",
    device: str = "cpu",
    runs: int = 20,
    warmup: int = 3,
    batch: int = 1,
    threads: int | None = None,
    compile: bool = False,
    cuda_graphs: bool = False,
    include_deform: bool = False,
    parity: bool = True,
    reference: Tensor | None = None,
    weights: str | None = None,
    options: dict | None = None,
    exported: str | os.PathLike | None = None,
    counts: dict | None = None,
    return_logits: bool = False,
    seed: int = 0,
    calibration: Sequence[np.ndarray] | None = None,
    image: Tensor | None = None,
    image_label: str | None = None,
    profile: bool = False,
    profile_top: int = DEFAULT_TOP,
    labels: bool = False,
) -> dict | tuple[dict, Tensor]:
    """Benchmark ``model`` on one runtime and return the JSON record (see the module docstring).

    ``options`` go to ``build_runner`` (channels_last, mode, optimization, ...). ``reference`` is eager
    fp32 logits of the same seeded image (computed here when ``parity`` and not given). ``exported`` is an
    ONNX/IR file of ``model`` for the onnxruntime/openvino backends (default: a static export at ``size``
    is made in a temporary folder). ``counts`` reuses ``complexity()``'s result; ``return_logits`` also
    returns the logits of the first forward (the input is ``torch.randn`` seeded with ``seed``).
    ``calibration`` (input batches from real images) quantises the export to INT8 for openvino int8; the
    quantisation time is part of ``setup_s``. ``image`` (``batch``×3×H×W at ``size``, e.g. a real photograph,
    described by ``image_label``) replaces the random input: agreement of a quantised or bf16 model means
    more on the images it is meant for. The input is named in the parity record. ``profile`` adds the
    per-operator profile of ``runs`` more forwards (``profile_top`` slowest nodes listed). ``labels`` times
    (and profiles) the class ids (``runner.labels``) instead of the logits; ``return_logits`` then returns them.
    """
    backend = validate_options(backend, precision, device, compile=compile, cuda_graphs=cuda_graphs)
    if profile:
        check_profilable(backend, device, cuda_graphs)
    if threads:
        torch.set_num_threads(threads)
    model = model.eval()
    options = dict(options or {})
    runner_options = dict(options, precision=precision, device=device)
    if profile:
        runner_options["profile"] = True
    if backend in ("eager", "compile"):
        runner_options["cuda_graphs"] = cuda_graphs
    if backend in ("onnxruntime", "openvino"):
        runner_options["threads"] = threads
        if exported is None:
            runner_options["export"] = {"size": tuple(size), "dynamic": False}
    if calibration is not None:
        runner_options["calibration"] = calibration
        options["calibration_images"] = len(calibration)
    if image is None:
        image = torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(seed))
        image_label = f"torch.randn, seed {seed}"
    elif tuple(image.shape) != (batch, 3, *size):
        raise ValueError(f"the benchmark image is {tuple(image.shape)}, expected {(batch, 3, *size)}")
    counts = counts or complexity(model, size, include_deform=include_deform)

    start = time.perf_counter()
    source = exported if exported is not None and backend in ("onnxruntime", "openvino") else model
    runner = build_runner(backend, source, **runner_options)
    setup_s = time.perf_counter() - start
    try:
        latency, first_ms, logits = time_runner(runner, image, runs=runs, warmup=warmup, device=device,
                                                labels=labels)
        runner_name = runner.name
        profile_record = profile_runner(runner, image, runs=runs, warmup=0, top=profile_top,
                                        labels=labels) if profile else None
    finally:
        runner.close()

    parity_record = None
    is_reference = (backend == "eager" and precision == "fp32" and device == "cpu"
                    and not options.get("fold_bn") and not options.get("channels_last"))
    if parity and not is_reference:
        from .export import compare_logits

        if reference is None:
            with torch.inference_mode():
                reference = model(image)
        if labels:
            diff, agreement = None, float((logits.long() == reference.argmax(1)).float().mean())
        else:
            diff, agreement = compare_logits(reference, logits)
        parity_record = {"reference": "eager fp32 cpu", "input": image_label or "given image",
                         "max_abs_diff": diff, "argmax_agreement": agreement}

    record = {
        "schema_version": SCHEMA_VERSION,
        "model": name,
        "weights": weights or "random-init",
        "input_size": [int(size[0]), int(size[1])],
        "batch": batch,
        "backend": backend,
        "runner": runner_name,
        "precision": precision,
        "device": device,
        "options": {**options, "threads": threads, "cuda_graphs": cuda_graphs},
        "params": counts["params"],
        "params_used": counts["params_used"],
        "gmacs": round(counts["gmacs"] * batch, 4),
        "mac_convention": mac_convention(include_deform),
        "latency_ms": {"median": latency.median, "p10": latency.p10, "p90": latency.p90, "min": latency.min,
                       "mean": latency.mean, "runs": latency.runs, "warmup": latency.warmup},
        "fps": batch * 1000.0 / latency.median,
        "setup_s": setup_s,
        "first_call_ms": first_ms,
        "parity": parity_record,
        "environment": environment(device),
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if labels:
        record["output"] = "class ids"
    if profile_record is not None:
        record["profile"] = profile_record
    return (record, logits) if return_logits else record


def validate_record(record: dict) -> None:
    """Raise ``ValueError`` when ``record`` does not follow schema version 1 (used by tests and readers)."""
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f"benchmark record lacks {', '.join(missing)}")
    unknown = set(record) - set(RECORD_KEYS) - set(OPTIONAL_KEYS)
    if unknown:
        raise ValueError(f"benchmark record has unknown keys {', '.join(sorted(unknown))}")
    if record["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"schema_version {record['schema_version']!r}, expected {SCHEMA_VERSION}")
    latency = record["latency_ms"]
    if any(key not in latency for key in LATENCY_KEYS):
        raise ValueError(f"latency_ms must hold {', '.join(LATENCY_KEYS)}")
    if record["backend"] not in BACKENDS:
        raise ValueError(f"unknown backend {record['backend']!r}")
    if not (latency["min"] <= latency["median"] and latency["p10"] <= latency["median"] <= latency["p90"]):
        raise ValueError("latency statistics are not ordered min <= p10 <= median <= p90")
    parity = record["parity"]
    if parity is not None and not {"max_abs_diff", "argmax_agreement"} <= set(parity):
        raise ValueError("parity must hold max_abs_diff and argmax_agreement")
    if "profile" in record:
        validate_profile(record["profile"])


def format_record(record: dict) -> str:
    """A human-readable table of one record."""
    latency = record["latency_ms"]
    height, width = record["input_size"]
    rows = [
        ("model", f"{record['model']} ({record['weights']})"),
        ("input", f"{record['batch']}x3x{height}x{width}" + (", class ids out" if record.get("output") else "")),
        ("runtime", f"{record['runner']}"),
        ("params", f"{record['params_used'] / 1e6:.3f}M used at eval ({record['params'] / 1e6:.3f}M built)"),
        ("GMACs", f"{record['gmacs']:.2f} ({record['mac_convention']})"),
        ("latency", f"median {latency['median']:.1f} ms, p10 {latency['p10']:.1f}, p90 {latency['p90']:.1f}, "
                    f"min {latency['min']:.1f} ({latency['runs']} runs after {latency['warmup']} warm-up)"),
        ("FPS", f"{record['fps']:.2f}"),
        ("setup", f"{record['setup_s']:.1f} s to build the runner, first call {record['first_call_ms']:.0f} ms"),
    ]
    if record["parity"] is not None:
        parity = record["parity"]
        diff = "" if parity["max_abs_diff"] is None else f"max |diff| {parity['max_abs_diff']:.3e}, "
        rows.append(("parity", f"vs {parity['reference']}: {diff}argmax agreement "
                               f"{100 * parity['argmax_agreement']:.3f}%"))
    env = record["environment"]
    load = env.get("load_average")
    rows.append(("machine", f"{env['cpu']} ({env['cpu_count']} CPUs, {env['threads']} torch threads"
                            + (f", load {load[0]:.2f}" if load else "") + ")"
                            + (f", {env['gpu']}" if env.get("gpu") else "")
                            + f", torch {env['torch']}"))
    width_key = max(len(key) for key, _ in rows)
    return "\n".join(f"{key:>{width_key}s}  {value}" for key, value in rows)


def write_json(records: dict | list[dict], path: str | os.PathLike) -> None:
    """Write one record or a list of records atomically."""
    text = json.dumps(records, indent=2, sort_keys=False) + "\n"
    atomic_write(path, lambda stream: stream.write(text.encode()))
