"""Per-operator profiles of a Runner: where the time of one forward goes, and how fast each kind of op runs.

A profile runs ``runs`` forwards after ``warmup`` and reads each runtime's own per-node timer: OpenVINO's
performance counters (the runner compiled with ``PERF_COUNT``), ONNX Runtime's profiler trace
(``enable_profiling``) or ``torch.profiler`` (eager and ``torch.compile``; Inductor's fused kernels are
timed by name). Nodes are averaged per forward and grouped by (op type, kernel, precision):

    type        the runtime's op type (OpenVINO layer type, ONNX op, aten/mkldnn op or Inductor kernel)
    kernel      what actually ran (OpenVINO exec type such as ``brgconv_avx512_amx_I8``; ORT provider and
                layout; the aten kernel that took the time); ``reference`` marks slow reference kernels
    precision   the precision it ran in (OpenVINO runtime precision, ORT/torch input dtype)
    count       nodes per forward; ``ms`` per forward; ``share`` of the summed op time
    gmacs       multiply-accumulates of the convolutions and matrix products, from each node's shapes
    gflops      achieved GFLOP/s (1 MAC = 2 FLOPs), where the node has MACs

``wall_ms`` is the median wall time of a profiled forward (the runner's call: input/output copies
included) and ``gap_ms`` = wall − summed op time (copies, Python, framework dispatch). Profiling adds
a little overhead to the wall time, more for torch.profiler than for the two runtimes' counters.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torch import Tensor

from .runtimes import OnnxRuntimeRunner, OpenVINORunner, Runner, TorchRunner

DEFAULT_TOP = 15
_SHOWN_SHARE = 0.001  # the text table leaves out rows under 0.1% of the op time (the JSON keeps them)
PROFILE_KEYS = ("source", "runs", "warmup", "wall_ms", "ops_ms", "gap_ms", "gmacs", "by_type", "top_nodes")
ROW_KEYS = ("type", "kernel", "precision", "reference", "count", "ms", "share", "gmacs", "gflops")
NODE_KEYS = ("node", "type", "kernel", "precision", "reference", "ms", "share", "gmacs", "gflops")
_OV_MAC_TYPES = {"Convolution", "GroupConvolution", "MatMul", "FullyConnected"}  # (no transposed convolutions)
_ORT_CONV_TYPES = {"Conv", "FusedConv", "NchwcConv", "QLinearConv", "ConvInteger"}
_ORT_MATMUL_TYPES = {"MatMul", "FusedMatMul", "Gemm", "MatMulInteger", "QLinearMatMul"}
# torch convolution ops: argument positions of (input, weight, padding, stride, dilation); the in-place
# binary mkldnn convolution takes the tensor it adds into (and overwrites) first
_TORCH_CONV_ARGS = {
    "aten::conv2d": (0, 1, 4, 3, 5), "aten::convolution": (0, 1, 4, 3, 5), "aten::_convolution": (0, 1, 4, 3, 5),
    "mkldnn::_convolution_pointwise": (0, 1, 3, 4, 5), "mkldnn::_convolution_pointwise_": (1, 2, 4, 5, 6),
}
_TORCH_REFERENCE_KERNELS = ("aten::_slow_conv2d_forward", "aten::thnn_conv2d", "aten::slow_conv_dilated2d",
                            "aten::slow_conv_transpose2d")
_TORCH_RUN = "alignseg.profile.forward"  # the record_function around each profiled forward
# events that frame compiled code rather than compute: their children are the ops
_TORCH_FRAMES = ("Torch-Compiled Region", "TorchDynamo", "Pregraph bytecode", "AOTDispatcher", "## ",
                 "CompiledFunction", "ProfilerStep")


@dataclass
class NodeTime:
    """One node of the graph as it ran: its time summed over the profiled forwards, its MACs per forward."""

    node: str
    type: str
    kernel: str
    precision: str
    ms: float = 0.0
    macs: int = 0


def is_reference(kernel: str) -> bool:
    """Whether ``kernel`` is a slow reference implementation (OpenVINO ``ref_*``, aten's slow convolutions)."""
    return kernel.startswith("ref") or "_ref_" in kernel or kernel in _TORCH_REFERENCE_KERNELS


def check_profilable(backend: str, device: str, cuda_graphs: bool = False) -> None:
    """Raise ``ValueError`` for a runtime combination the profiler cannot break down per operator."""
    if device != "cpu" or cuda_graphs:
        raise ValueError(f"--profile breaks down CPU runs only (got {backend} on {device}"
                         + (" with CUDA graphs" if cuda_graphs else "") + "): use --device cpu")


def profile_runner(runner: Runner, image: Tensor, *, runs: int = 5, warmup: int = 2, top: int = DEFAULT_TOP,
                   labels: bool = False) -> dict:
    """Profile ``runs`` forwards of ``runner`` on ``image`` after ``warmup``; the record described above.

    The runner must have been built with ``profile=True`` (``build_runner(..., profile=True)``). ``labels``
    profiles ``runner.labels`` (class ids; on OpenVINO the graph with the arg-max appended) instead of the logits.
    """
    if runs < 1 or warmup < 0 or top < 0:
        raise ValueError(f"need runs >= 1, warmup >= 0 and top >= 0 (got {runs}, {warmup}, {top})")
    inner = getattr(runner, "inner", runner)  # a runner that owns its temporary export
    if getattr(inner, "device", "cpu") != "cpu":
        raise ValueError(f"the profiler breaks down CPU runs only, not {inner.name}")
    forward = runner.labels if labels else runner
    for _ in range(warmup):
        forward(image)
    if isinstance(inner, OpenVINORunner):
        source, nodes, walls = "openvino performance counters", *_openvino_nodes(forward, inner, image, runs,
                                                                                  labels)
    elif isinstance(inner, OnnxRuntimeRunner):
        source, nodes, walls = "onnxruntime profiler", *_onnxruntime_nodes(forward, inner, image, runs)
    elif isinstance(inner, TorchRunner):
        source, nodes, walls = "torch.profiler", *_torch_nodes(forward, image, runs)
    else:
        raise ValueError(f"no per-operator profiler for {type(inner).__name__}")
    return summarize(nodes, walls, runs=runs, warmup=warmup, source=source, top=top)


def _wall(forward: Callable[[Tensor], Tensor], image: Tensor) -> float:
    start = time.perf_counter()
    forward(image)
    return (time.perf_counter() - start) * 1000


def _openvino_nodes(forward: Callable[[Tensor], Tensor], inner: OpenVINORunner, image: Tensor, runs: int,
                    labels: bool) -> tuple[list[NodeTime], list[float]]:
    """Executed nodes from the performance counters; shapes and precisions from the runtime graph."""
    if not inner.config.get("PERF_COUNT"):
        raise ValueError("the openvino runner was built without performance counters: build it with profile=True")
    request = inner._request(tuple(image.shape), labels)
    runtime = {op.get_friendly_name(): op for op in request.get_compiled_model().get_runtime_model().get_ops()}
    nodes: dict[str, NodeTime] = {}
    walls = []
    for _ in range(runs):
        walls.append(_wall(forward, image))
        for info in request.get_profiling_info():
            if info.status.name != "EXECUTED":
                continue
            node = nodes.get(info.node_name)
            if node is None:
                op = runtime.get(info.node_name)
                precision = _rt_text(op, "runtimePrecision") or info.exec_type.rsplit("_", 1)[-1]
                node = nodes[info.node_name] = NodeTime(info.node_name, info.node_type, info.exec_type, precision,
                                                        macs=openvino_macs(op) if op is not None else 0)
            node.ms += info.real_time.total_seconds() * 1000
    return list(nodes.values()), walls


def _rt_text(op, key: str) -> str:
    if op is None:
        return ""
    info = op.get_rt_info()
    return info[key].astype(str) if key in info else ""


def openvino_macs(op) -> int:
    """MACs of one node of an OpenVINO runtime graph (convolutions, matrix products; 0 for other nodes).

    A convolution's output element takes (in channels / groups) × kernel area MACs: the product of the
    weights' last three dimensions, for plain ([O, I, kh, kw]) and grouped ([G, O/G, I/G, kh, kw]) weights.
    A matrix product's output element takes K MACs, the last dimension of its first input.
    """
    kind = _rt_text(op, "layerType") or op.get_type_name()
    if kind not in _OV_MAC_TYPES or op.get_input_size() < 2:
        return 0
    shapes = [op.get_input_partial_shape(i) for i in range(2)] + [op.get_output_partial_shape(0)]
    if not all(shape.is_static for shape in shapes):
        return 0
    data, weights, output = ([dim.get_length() for dim in shape] for shape in shapes)
    per_output = math.prod(weights[-3:]) if "Convolution" in kind else data[-1]
    return math.prod(output) * per_output


def _onnxruntime_nodes(forward: Callable[[Tensor], Tensor], inner: OnnxRuntimeRunner, image: Tensor, runs: int
                       ) -> tuple[list[NodeTime], list[float]]:
    """Node events of the last ``runs`` model runs in ONNX Runtime's trace (the session stops profiling)."""
    if not inner.session.get_session_options().enable_profiling:
        raise ValueError("the onnxruntime runner was built without profiling: build it with profile=True")
    walls = [_wall(forward, image) for _ in range(runs)]
    path = inner.session.end_profiling()
    if not path:
        raise ValueError("an ONNX Runtime session is profiled once (its trace ends): build a new runner to profile "
                         "again")
    try:
        with open(path) as stream:
            events = json.load(stream)
    finally:
        os.remove(path)
    model_runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])[-runs:]
    nodes: dict[str, NodeTime] = {}
    start = model_runs[0]["ts"] if model_runs else 0
    for event in events:
        if event.get("cat") != "Node" or event["ts"] < start or not event["name"].endswith("_kernel_time"):
            continue
        args = event.get("args", {})
        name = event["name"][: -len("_kernel_time")]
        node = nodes.get(name)
        if node is None:
            inputs = [next(iter(entry.items())) for entry in args.get("input_type_shape", [])]
            outputs = [next(iter(entry.values())) for entry in args.get("output_type_shape", [])]
            op_type = args.get("op_name", "?")
            provider = args.get("provider", "?").replace("ExecutionProvider", "")
            layout = " NCHWc" if name.endswith("_nchwc") else ""
            node = nodes[name] = NodeTime(name, op_type, provider + layout, inputs[0][0] if inputs else "?",
                                          macs=onnxruntime_macs(op_type, [shape for _, shape in inputs], outputs))
        node.ms += event["dur"] / 1000
    return list(nodes.values()), walls


def onnxruntime_macs(op_type: str, inputs: list[list[int]], outputs: list[list[int]]) -> int:
    """MACs of one ONNX Runtime node from its input and output shapes (see :func:`openvino_macs`)."""
    if not outputs or len(inputs) < 2:
        return 0
    if op_type in _ORT_CONV_TYPES:
        weights = inputs[3] if op_type == "QLinearConv" else inputs[1]
        return math.prod(outputs[0]) * math.prod(weights[1:])
    if op_type in _ORT_MATMUL_TYPES:
        return math.prod(outputs[0]) * inputs[0][-1]
    return 0


def _torch_nodes(forward: Callable[[Tensor], Tensor], image: Tensor, runs: int
                 ) -> tuple[list[NodeTime], list[float]]:
    """The outermost operator events (below the compiled-region frames) of each profiled forward."""
    from torch.profiler import ProfilerActivity, profile, record_function

    walls = []
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True, with_flops=True) as prof:
        for _ in range(runs):
            with record_function(_TORCH_RUN):
                walls.append(_wall(forward, image))
    nodes: dict[str, NodeTime] = {}
    for run in (event for event in prof.events() if event.name == _TORCH_RUN):
        seen: dict[str, int] = defaultdict(int)
        for event in _torch_ops(run.cpu_children):
            kernel_event = _torch_kernel(event)
            label = f"{event.name} {_shapes_text(event.input_shapes)}"
            seen[label] += 1
            key = f"{label} #{seen[label]}"
            node = nodes.get(key)
            if node is None:
                dtype = next((d for d in kernel_event.input_dtypes if d and not d.startswith(("Scalar", "Tensor"))),
                             "-")
                node = nodes[key] = NodeTime(key, _torch_type(event.name), kernel_event.name,
                                             dtype.replace("c10::", ""), macs=torch_macs(event))
            node.ms += event.cpu_time_total / 1000
    return list(nodes.values()), walls


def _torch_ops(events: Iterable) -> Iterable:
    for event in events:
        if event.name.startswith(_TORCH_FRAMES):
            yield from _torch_ops(event.cpu_children)
        elif "::" in event.name or event.name.startswith("graph_"):
            yield event


def _torch_type(name: str) -> str:
    """An op's type: its aten/mkldnn name, or an Inductor kernel's name without graph and kernel numbers."""
    if name.startswith("graph_"):
        name = name.split("_", 2)[-1]
        head, _, tail = name.rpartition("_")
        return head if tail.isdigit() else name
    return name


_TORCH_CASTS = ("aten::to", "aten::_to_copy", "aten::copy_", "aten::empty_strided", "aten::contiguous", "aten::clone")


def _torch_kernel(event):
    """The event that did an op's work: follow the child holding most of the time while it holds over half of the
    time not spent casting (autocast's casts of the inputs can outweigh a small convolution's compute)."""
    while event.cpu_children:
        work = [child for child in event.cpu_children if child.name not in _TORCH_CASTS]
        if not work:
            break
        child = max(work, key=lambda e: e.cpu_time_total)
        casts = sum(e.cpu_time_total for e in event.cpu_children if e.name in _TORCH_CASTS)
        if child.cpu_time_total * 2 < event.cpu_time_total - casts:
            break
        event = child
    return event


def _descendants(event) -> list:
    found = [event]
    for child in event.cpu_children:
        found.extend(_descendants(child))
    return found


def _shapes_text(shapes) -> str:
    return "x".join(str(list(shape)) for shape in shapes if shape)


def torch_macs(event) -> int:
    """MACs of one torch profiler event: convolutions from their shapes and arguments, matrix products
    from the profiler's FLOP count (its own or its children's); 0 for other ops."""
    if event.name in _TORCH_CONV_ARGS:
        data_at, weight_at, padding_at, stride_at, dilation_at = _TORCH_CONV_ARGS[event.name]
        shapes, args = event.input_shapes, event.concrete_inputs
        try:
            data, weights = shapes[data_at], shapes[weight_at]
            padding, stride, dilation = args[padding_at], args[stride_at], args[dilation_at]
            spatial = [(size + 2 * pad - dil * (k - 1) - 1) // step + 1
                       for size, k, pad, step, dil in zip(data[2:], weights[2:], padding, stride, dilation,
                                                               strict=True)]
        except (IndexError, TypeError, ValueError):  # arguments not recorded as expected: no count
            return 0
        return data[0] * weights[0] * math.prod(spatial) * math.prod(weights[1:])
    if "::" in event.name and any(part in event.name for part in ("mm", "matmul", "linear")):
        return (event.flops or sum(e.flops or 0 for e in _descendants(event)[1:])) // 2
    return 0


def summarize(nodes: list[NodeTime], walls: list[float], *, runs: int, warmup: int, source: str,
              top: int = DEFAULT_TOP) -> dict:
    """The profile record from per-node times summed over ``runs`` forwards and their wall times."""
    ops_ms = sum(node.ms for node in nodes) / runs
    wall_ms = statistics.median(walls)
    groups: dict[tuple[str, str, str], list[NodeTime]] = defaultdict(list)
    for node in nodes:
        groups[(node.type, node.kernel, node.precision)].append(node)
    rows = [_row({"type": kind, "kernel": kernel, "precision": precision, "reference": is_reference(kernel),
                  "count": len(members)}, sum(n.ms for n in members) / runs, sum(n.macs for n in members), ops_ms)
            for (kind, kernel, precision), members in groups.items()]
    ranked = sorted(nodes, key=lambda n: n.ms, reverse=True)[:top]
    top_nodes = [_row({"node": n.node, "type": n.type, "kernel": n.kernel, "precision": n.precision,
                       "reference": is_reference(n.kernel)}, n.ms / runs, n.macs, ops_ms) for n in ranked]
    return {
        "source": source, "runs": runs, "warmup": warmup,
        "wall_ms": wall_ms, "ops_ms": ops_ms, "gap_ms": wall_ms - ops_ms,
        "gmacs": sum(node.macs for node in nodes) / 1e9,
        "by_type": sorted(rows, key=lambda row: row["ms"], reverse=True),
        "top_nodes": top_nodes,
    }


def _row(fields: dict, ms: float, macs: int, total_ms: float) -> dict:
    fields.update(ms=ms, share=ms / total_ms if total_ms > 0 else 0.0, gmacs=macs / 1e9,
                  gflops=2 * macs / (ms * 1e6) if macs and ms > 0 else None)
    return fields


def validate_profile(profile: dict) -> None:
    """Raise ``ValueError`` when a profile record lacks a key or its rows are malformed."""
    missing = [key for key in PROFILE_KEYS if key not in profile]
    if missing:
        raise ValueError(f"profile lacks {', '.join(missing)}")
    for table, keys in (("by_type", ROW_KEYS), ("top_nodes", NODE_KEYS)):
        for row in profile[table]:
            if not set(keys) <= set(row):
                raise ValueError(f"profile {table} rows must hold {', '.join(keys)}")


def format_profile(profile: dict) -> str:
    """The profile as two text tables: per (op type, kernel, precision), then the slowest nodes."""
    warmup = f" after {profile['warmup']} warm-up" if profile["warmup"] else ""
    lines = [f"per-operator profile ({profile['source']}, {profile['runs']} forwards{warmup}): "
             f"wall {profile['wall_ms']:.1f} ms, ops {profile['ops_ms']:.1f} ms, gap (copies, "
             f"framework) {profile['gap_ms']:.1f} ms; {profile['gmacs']:.2f} GMACs in the profiled graph",
             f"{'type':<24s} {'kernel':<34s} {'prec':<6s} {'n':>5s} {'ms':>9s} {'share':>6s} {'GMACs':>8s} "
             f"{'GFLOP/s':>8s}"]
    shown = [row for row in profile["by_type"] if row["share"] >= _SHOWN_SHARE]
    for row in shown:
        lines.append(f"{row['type'][:24]:<24s} {_kernel_text(row)[:34]:<34s} {row['precision'][:6]:<6s} "
                     f"{row['count']:>5d} {row['ms']:>9.2f} {100 * row['share']:>5.1f}% {_macs_text(row)}")
    hidden = profile["by_type"][len(shown):]
    if hidden:
        lines.append(f"({len(hidden)} more rows under {100 * _SHOWN_SHARE:.1f}% each, "
                     f"{sum(row['ms'] for row in hidden):.2f} ms together)")
    if profile["top_nodes"]:
        lines.append(f"slowest {len(profile['top_nodes'])} nodes:")
        for row in profile["top_nodes"]:
            lines.append(f"  {row['ms']:>9.2f} ms {100 * row['share']:>5.1f}%  {row['type'][:20]:<20s} "
                         f"{_kernel_text(row)[:30]:<30s} {row['precision'][:6]:<6s} {_macs_text(row)}  "
                         f"{row['node']}")
    return "\n".join(lines)


def _kernel_text(row: dict) -> str:
    return row["kernel"] + (" (ref)" if row["reference"] else "")


def _macs_text(row: dict) -> str:
    if not row["gmacs"]:
        return f"{'':>8s} {'':>8s}"
    return f"{_gmacs_text(row['gmacs']):>8s} {row['gflops']:>8.1f}"


def _gmacs_text(gmacs: float) -> str:
    return "" if not gmacs else "<0.001" if gmacs < 0.0005 else f"{gmacs:.3f}"


def profile_markdown(profile: dict, *, rows: int = 12) -> str:
    """The profile as markdown (for benchmarks/RESULTS.md): totals, the ``rows`` heaviest op rows, the
    slowest nodes."""
    def cells(row: dict, count: str) -> str:
        gmacs = _gmacs_text(row["gmacs"])
        gflops = f"{row['gflops']:.0f}" if row["gflops"] else ""
        return (f"{row['type']} | `{_kernel_text(row)}` | {row['precision']} | {count}{row['ms']:.1f} | "
                f"{100 * row['share']:.1f}% | {gmacs} | {gflops} |")

    lines = [f"wall {profile['wall_ms']:.1f} ms per forward, ops {profile['ops_ms']:.1f} ms, gap (copies, "
             f"framework) {profile['gap_ms']:.1f} ms; {profile['source']}, {profile['runs']} forwards", "",
             "| op type | kernel | precision | n | ms | share | GMACs | GFLOP/s |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + cells(row, f"{row['count']} | ") for row in profile["by_type"][:rows]]
    rest = profile["by_type"][rows:]
    if rest:
        rest_ms = sum(row["ms"] for row in rest)
        lines.append(f"| ({len(rest)} more rows) | | | | {rest_ms:.1f} | "
                     f"{100 * rest_ms / max(profile['ops_ms'], 1e-9):.1f}% | | |")
    if profile["top_nodes"]:
        lines += ["", "| slowest node | op type | kernel | precision | ms | share | GMACs | GFLOP/s |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        lines += [f"| `{row['node']}` | {cells(row, '')}" for row in profile["top_nodes"]]
    return "\n".join(lines) + "\n"
