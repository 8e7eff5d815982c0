"""Inference runtimes behind one interface: ``runner(x) -> logits``.

A runner takes an ``N×3×H×W`` float32 image batch (a torch tensor, normalised as for the model) and
returns ``N×C×H×W`` float32 logits as a torch tensor on the batch's device (the work runs on the
runner's device); ``runner.labels(x)`` returns only the ``N×H×W`` class ids, which OpenVINO computes inside
its graph (the full-resolution logits are then never converted or copied out: the fastest path when
labels are all a caller needs). ``name`` describes the runner ("onnxruntime fp32 (4 threads)");
``close()`` frees what it holds (sessions, temporary exports). Runners are built by ``build_runner``:

==============  ==========================================  =============================================
backend         source                                      options
==============  ==========================================  =============================================
``eager``       ``nn.Module``                               device, precision (fp32/bf16/fp16 autocast),
                                                            channels_last, fold_bn, cuda_graphs
``compile``     ``nn.Module``                               the eager options + mode, freezing, dynamic
``onnxruntime`` ``nn.Module`` (exported first) or .onnx     device, threads, optimization, export options
``openvino``    ``nn.Module`` (exported first), .onnx/.xml  precision (fp32/bf16/fp16/int8), threads, hint,
                                                            calibration (int8 from a model or .onnx)
==============  ==========================================  =============================================

Every backend also takes ``profile=True``: the runtime keeps per-node timings for
``alignseg.deploy.profile`` (OpenVINO performance counters, ONNX Runtime's profiler trace, Inductor's
kernels named in the torch profiler).

Every command runs its model through one of these (``alignseg eval``, ``predict``, ``bench`` and the parity
check of ``export``). A runner of an exported file carries the ``ModelRecord`` written into it by
``alignseg export`` (``record``: model name, classes, palette, normalisation, size); a PyTorch runner can
also return the decoder's semantic flows (``forward_with_flows``).

The ONNX Runtime and OpenVINO packages are optional (extra ``deploy``) and imported only when used.
OpenVINO runs bf16 by default on CPUs with AMX or AVX-512 BF16; the runner always sets the precision
it is asked for (fp32 by default), so parity with PyTorch holds unless bf16 is requested. ``int8`` runs an
NNCF-quantised IR (``alignseg.deploy.quantize``): a quantised .xml as it is, or a model/.onnx quantised
first with ``calibration`` (input batches from real images).
"""

from __future__ import annotations

import copy
import os
import tempfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..models.checkpoint import ModelRecord
from ..models.weights import WeightsError
from .extras import require
from .onnx_graph import export_onnx, prepare_for_export

BACKENDS = ("eager", "compile", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
_ALIASES = {"torch": "eager", "pytorch": "eager", "ort": "onnxruntime", "ov": "openvino",
            "torch.compile": "compile", "inductor": "compile"}
_TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_ORT_LEVELS = ("disable", "basic", "extended", "all")
_OV_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
_EXPORTED_BACKENDS = {".onnx": "onnxruntime", ".xml": "openvino"}
RECORD_KEY = "alignseg"
"""The key of the JSON ``ModelRecord`` in an ONNX file's ``metadata_props`` and an OpenVINO IR's ``rt_info``."""


def default_device() -> str:
    """The best device here: ``cuda`` when PyTorch sees a GPU, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | torch.device | None) -> str:
    """``device`` checked (``None``/``"auto"``: :func:`default_device`); CUDA asked for where there is none
    is a clear error, not a crash later."""
    if device is None or str(device) == "auto":
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda (or cuda:N)") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but CUDA is not available here: use --device cpu")
    return str(resolved)


def backend_for(path: str | os.PathLike) -> str:
    """The runtime that runs an exported file by default: onnxruntime for .onnx, openvino for .xml."""
    suffix = Path(path).suffix.lower()
    if suffix not in _EXPORTED_BACKENDS:
        raise ValueError(f"{os.fspath(path)!r} is not an exported model (.onnx or OpenVINO .xml)")
    return _EXPORTED_BACKENDS[suffix]


def is_exported(path: str | os.PathLike | nn.Module) -> bool:
    """Whether ``path`` names an exported model (.onnx / .xml) rather than PyTorch weights."""
    return not isinstance(path, nn.Module) and Path(path).suffix.lower() in _EXPORTED_BACKENDS


def exported_record(path: str | os.PathLike) -> ModelRecord:
    """The record inside an exported file (ONNX ``metadata_props`` or OpenVINO ``rt_info``), read without
    building a runtime session."""
    source = os.fspath(path)
    if not Path(source).is_file():
        raise FileNotFoundError(f"exported model not found: {source!r}")
    if backend_for(source) == "onnxruntime":
        proto = require("onnx").load(source, load_external_data=False)
        props = {p.key: p.value for p in proto.metadata_props}
        channels = proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value or None
        return _record_from(props.get(RECORD_KEY), source, channels)
    return _openvino_record(require("openvino").Core().read_model(source), source)


def _openvino_record(model, source: str) -> ModelRecord:
    """The record in an OpenVINO model's ``rt_info``, its classes from the output shape where static."""
    text = model.get_rt_info([RECORD_KEY]).astype(str) if model.has_rt_info([RECORD_KEY]) else None
    channels = model.outputs[0].get_partial_shape()[1]
    return _record_from(text, source, channels.get_length() if channels.is_static else None)


def _record_from(text: str | None, source: str, num_classes: int | None) -> ModelRecord:
    """The record an export carries (an empty one for files of other tools); the graph's static class count
    ``num_classes``, where known, wins over the record's."""
    if text is None:
        return ModelRecord(num_classes=num_classes)
    try:
        return ModelRecord.from_json(text, source).replace(num_classes=num_classes)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{source}: unreadable alignseg metadata ({exc})") from exc


def canonical_backend(backend: str) -> str:
    """``backend`` or its alias as one of ``BACKENDS``; a clear error for unknown names."""
    name = _ALIASES.get(backend.lower(), backend.lower())
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose from {', '.join(BACKENDS)}")
    return name


def check_precision(backend: str, precision: str, device: str = "cpu") -> None:
    """Raise ``ValueError`` for a precision the backend cannot run on ``device``."""
    backend = canonical_backend(backend)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: choose from {', '.join(PRECISIONS)}")
    if precision == "int8" and backend != "openvino":
        raise ValueError("int8 runs on the openvino backend (a model quantised with NNCF from calibration images)")
    if backend == "onnxruntime" and precision != "fp32":
        raise ValueError("the onnxruntime runner runs the fp32 graph only; use --backend openvino for bf16/fp16 "
                         "on CPU, or eager/compile autocast")
    if backend == "openvino" and device != "cpu":
        raise ValueError("the openvino runner runs on the CPU only")


class Runner:
    """The interface: ``runner(x)`` → logits (on ``x``'s device), ``name``, ``num_classes``, ``align_corners``
    (the model's resize convention, for multi-scale and sliding-window inference), ``record`` (what an
    exported file says about its model; ``None`` for a PyTorch model), ``close()``; also a context manager."""

    name: str = "runner"
    device: str = "cpu"
    precision: str = "fp32"
    num_classes: int | None = None
    align_corners: bool = True
    record: ModelRecord | None = None

    def __call__(self, x: Tensor) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def labels(self, x: Tensor) -> Tensor:
        """``N×H×W`` class ids of ``x`` (the arg-max of the logits, the first class on ties), as uint8 when
        the classes fit in it (int64 otherwise), on ``x``'s device."""
        return class_ids(self(x))

    def close(self) -> None:
        """Free sessions, compiled graphs and temporary files; the runner must not be called afterwards."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def class_ids(logits: Tensor) -> Tensor:
    """Arg-max over the class axis, narrowed to uint8 when the classes fit (a quarter of the memory of int32)."""
    ids = logits.argmax(dim=1)
    return ids.to(torch.uint8) if logits.shape[1] <= 256 else ids


def _check_image(x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"expected an N×C×H×W float image tensor, got {shape}")


class _CudaGraph:
    """Replays one captured forward per input shape (static input and output buffers)."""

    def __init__(self, forward) -> None:
        self.forward = forward
        self.graphs: dict[tuple[int, ...], tuple[torch.cuda.CUDAGraph, Tensor, Tensor]] = {}

    def __call__(self, x: Tensor) -> Tensor:
        key = tuple(x.shape)
        if key not in self.graphs:
            static_in = x.clone()
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):  # warm-up outside the graph: cuDNN autotuning, lazy allocations
                    self.forward(static_in)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.forward(static_in)
            self.graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = self.graphs[key]
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()


class TorchRunner(Runner):
    """PyTorch eager (or ``torch.compile``d) inference under ``inference_mode``/``no_grad`` and autocast.

    ``precision`` bf16/fp16 runs under ``torch.autocast`` (weights stay fp32, outputs are cast back to
    float32). ``channels_last`` converts the model and each input. ``fold_bn`` folds BatchNorm into the
    convolutions first. ``cuda_graphs`` (CUDA only) captures one graph per input shape and replays it.
    ``compile_mode`` (None = eager) wraps the model in ``torch.compile``; on the CPU ``freezing`` lets
    Inductor fold the weights as constants (much faster CPU inference; the model must not change).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        device: str | None = "cpu",
        precision: str = "fp32",
        channels_last: bool = False,
        fold_bn: bool = False,
        cuda_graphs: bool = False,
        compile_mode: str | None = None,
        freezing: bool = True,
        dynamic: bool | None = False,
        profile: bool = False,
    ) -> None:
        backend = "eager" if compile_mode is None else "compile"
        device = resolve_device(device)
        check_precision(backend, precision, device)
        if cuda_graphs and not device.startswith("cuda"):
            raise ValueError("CUDA graphs need --device cuda")
        if fold_bn:
            from .fold import fold_batchnorm

            model = fold_batchnorm(model)  # a copy
        elif channels_last or device != "cpu":
            model = copy.deepcopy(model)  # .to() converts in place: leave the caller's model as it was
        self.model = model.eval().to(device)
        self.align_corners = bool(getattr(model, "align_corners", True))
        self.device = device
        self.precision = precision
        self.channels_last = channels_last
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.compile_mode = compile_mode
        self.freezing = freezing and device == "cpu"
        self.profile = profile
        forward = self.model
        manual_graphs = cuda_graphs
        if compile_mode is not None:
            if cuda_graphs and compile_mode == "default":
                compile_mode = "reduce-overhead"  # Inductor's own CUDA-graph mode
            self.compile_mode = compile_mode
            forward = torch.compile(self.model, mode=None if compile_mode == "default" else compile_mode,
                                    dynamic=dynamic)
            manual_graphs = False
        self._forward = self._autocast_forward(forward)
        if manual_graphs:
            self._forward = _CudaGraph(self._forward)
        parts = [backend if compile_mode is None else f"compile[{compile_mode}]", precision, device]
        if channels_last:
            parts.append("channels_last")
        if fold_bn:
            parts.append("bn-folded")
        if cuda_graphs:
            parts.append("cuda-graphs")
        self.name = " ".join(parts)
        self._num_classes = None

    def _autocast_forward(self, forward):
        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        dtype = _TORCH_DTYPES.get(self.precision)

        def run(x: Tensor) -> Tensor:
            context = torch.autocast(device_type, dtype=dtype) if dtype is not None else nullcontext()
            with context:
                return forward(x).float()
        return run

    @property
    def num_classes(self) -> int:
        if self._num_classes is None:
            from .loading import num_classes_of

            self._num_classes = num_classes_of(self.model)
        return self._num_classes

    def __call__(self, x: Tensor) -> Tensor:
        _check_image(x)
        source_device = x.device
        x = x.to(self.device, torch.float32)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.compile_mode is None:
            with torch.inference_mode():
                return self._forward(x).to(source_device)
        # Inductor's freezing needs no_grad (not inference_mode) and is read when a graph is compiled
        from torch._inductor import config as inductor_config

        settings = {"freezing": True} if self.freezing else {}
        if self.profile:
            settings["cpp.enable_kernel_profile"] = True  # name each fused kernel in torch.profiler
        patch = inductor_config.patch(settings) if settings else nullcontext()
        with torch.no_grad(), patch:
            return self._forward(x).to(source_device)

    def forward_with_flows(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Eval logits and the decoder's semantic flows (released SFNet units) on ``x``'s device, in fp32
        eager mode; a model without flows gives none."""
        _check_image(x)
        if not hasattr(self.model, "forward_with_flows"):
            return self(x), []
        with torch.inference_mode():
            logits, flows = self.model.forward_with_flows(x.to(self.device, torch.float32))
        return logits.float().to(x.device), [flow.float().to(x.device) for flow in flows or []]

    def close(self) -> None:
        self._forward = None
        self.model = None
        if self.compile_mode is not None:
            torch._dynamo.reset()


def _export_for_runtime(model: nn.Module, export: dict | None) -> tuple[Path, tempfile.TemporaryDirectory]:
    """Export ``model`` to ONNX in a temporary folder (BN folded, no parity check: the caller compares)."""
    options = dict(export or {})
    folder = tempfile.TemporaryDirectory(prefix="alignseg-export-")
    path = Path(folder.name) / "model.onnx"
    export_onnx(prepare_for_export(model), path, **options)
    return path, folder


def _quantize_for_runtime(source: Path, calibration, folder: tempfile.TemporaryDirectory | None
                          ) -> tuple[Path, tempfile.TemporaryDirectory]:
    """Quantise ``source`` to an INT8 IR in ``folder`` (a new temporary one when None)."""
    from .quantize import quantize_openvino

    folder = folder or tempfile.TemporaryDirectory(prefix="alignseg-int8-")
    try:
        return quantize_openvino(source, calibration, Path(folder.name) / "model_int8.xml"), folder
    except BaseException:
        folder.cleanup()
        raise


class OnnxRuntimeRunner(Runner):
    """ONNX Runtime session on the CPU (or CUDA) execution provider.

    ``threads`` sets the intra-op thread pool (None = ONNX Runtime's default, one per core);
    ``optimization`` is the graph optimisation level: disable, basic, extended or all.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", threads: int | None = None,
                 optimization: str = "all", precision: str = "fp32", profile: bool = False) -> None:
        check_precision("onnxruntime", precision, device)
        ort = require("onnxruntime")
        if optimization not in _ORT_LEVELS:
            raise ValueError(f"unknown optimization level {optimization!r}: choose from {', '.join(_ORT_LEVELS)}")
        options = ort.SessionOptions()
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[optimization]
        if threads:
            options.intra_op_num_threads = threads
        if profile:  # a JSON trace, read and removed by alignseg.deploy.profile
            options.enable_profiling = True
            options.profile_file_prefix = os.path.join(tempfile.gettempdir(), f"alignseg-ort-profile-{os.getpid()}")
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValueError("onnxruntime has no CUDA execution provider here: install onnxruntime-gpu")
            providers.insert(0, "CUDAExecutionProvider")
        self.path = Path(path)
        self.session = ort.InferenceSession(os.fspath(path), options, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.device = device
        self.precision = precision
        self.name = f"onnxruntime fp32 {device}" + (f" ({threads} threads)" if threads else "")
        channels = self.session.get_outputs()[0].shape[1]
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.record = _record_from(metadata.get(RECORD_KEY), os.fspath(path),
                                   channels if isinstance(channels, int) else None)
        self.num_classes = self.record.num_classes
        self.align_corners = self.record.align_corners is not False

    def __call__(self, x: Tensor) -> Tensor:
        _check_image(x)
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        (logits,) = self.session.run(None, {self.input_name: array})[:1]
        return torch.from_numpy(logits).to(x.device)

    def close(self) -> None:
        if self.session is not None and self.session.get_session_options().enable_profiling:
            trace = self.session.end_profiling()  # "" once alignseg.deploy.profile has read (and removed) it
            if trace:
                os.remove(trace)
        self.session = None


class OpenVINORunner(Runner):
    """OpenVINO on the CPU, from an ONNX file or an OpenVINO IR (.xml).

    ``precision`` sets ``INFERENCE_PRECISION_HINT`` explicitly (fp32 → f32, bf16, fp16 → f16): OpenVINO
    would otherwise pick bf16 on AMX CPUs. ``int8`` needs a quantised IR (FakeQuantize nodes); its
    quantised layers run in INT8 and the rest in bf16 where the CPU has it, else f32. A network with
    dynamic H/W is reshaped to each new input shape and compiled once per shape (static shapes run faster).
    """

    def __init__(self, path: str | os.PathLike, *, precision: str = "fp32", threads: int | None = None,
                 hint: str = "LATENCY", device: str = "cpu", profile: bool = False) -> None:
        check_precision("openvino", precision, device)
        ov = require("openvino")
        self.core = ov.Core()
        capabilities = self.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        wanted = {"bf16": "BF16", "fp16": "FP16", "int8": "INT8"}.get(precision)
        if wanted and wanted not in capabilities:
            raise ValueError(f"this CPU cannot run OpenVINO in {precision} (capabilities: {', '.join(capabilities)})")
        self.model = self.core.read_model(os.fspath(path))
        hint_precision = _OV_PRECISIONS.get(precision, "bf16" if "BF16" in capabilities else "f32")
        label = precision
        if precision == "int8":
            from .quantize import is_quantized

            if not is_quantized(self.model):
                raise ValueError(f"{os.fspath(path)!r} is not quantised: make an INT8 model with `alignseg export "
                                 "--format openvino --int8 --calibration DIR`, or give calibration images")
            label = f"int8 ({hint_precision} elsewhere)"
        self.config = {"INFERENCE_PRECISION_HINT": hint_precision, "PERFORMANCE_HINT": hint}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = int(threads)
        if profile:
            self.config["PERF_COUNT"] = True  # per-node times for alignseg.deploy.profile
        self.path = Path(path)
        self.compiled: dict[tuple[tuple[int, ...], bool], object] = {}
        self.device = "cpu"
        self.precision = precision
        self.name = f"openvino {label} cpu" + (f" ({threads} threads)" if threads else "")
        self.record = _openvino_record(self.model, os.fspath(path))
        self.num_classes = self.record.num_classes
        self.align_corners = self.record.align_corners is not False

    def _request(self, shape: tuple[int, ...], labels: bool = False):
        """The infer request compiled for input ``shape``, with the logits or (``labels``) the class ids out."""
        if (shape, labels) not in self.compiled:
            if self.model.inputs[0].get_partial_shape().is_dynamic or tuple(self.model.inputs[0].get_shape()) != shape:
                self.model.reshape({self.model.inputs[0]: list(shape)})
            model = _with_class_ids(self.model) if labels else self.model
            compiled = self.core.compile_model(model, "CPU", self.config)
            self.compiled[shape, labels] = compiled.create_infer_request()
        return self.compiled[shape, labels]

    def _infer(self, x: Tensor, labels: bool) -> Tensor:
        _check_image(x)
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        request = self._request(tuple(array.shape), labels)
        request.infer({0: array})
        out = torch.from_numpy(np.array(request.get_output_tensor(0).data, copy=True))
        return (out.long() if out.dtype == torch.int32 else out).to(x.device)

    def __call__(self, x: Tensor) -> Tensor:
        return self._infer(x, labels=False)

    def labels(self, x: Tensor) -> Tensor:
        """Class ids computed in the graph: a TopK(1) over the classes appended to the network (ties go to the
        first class, as ``argmax``), so the logits never leave OpenVINO's blocked bf16 layout."""
        return self._infer(x, labels=True)

    def close(self) -> None:
        self.compiled.clear()
        self.model = None


def _with_class_ids(model):
    """A copy of the OpenVINO ``model`` whose output is the arg-max of its logits over the class axis (uint8 when
    the classes fit, else int32, widened to int64 by the caller)."""
    require("openvino")
    from openvino import opset13 as ops

    model = model.clone()
    result = model.get_results()[0]
    logits = result.input_value(0)
    top = ops.topk(logits, ops.constant(np.int64(1)), axis=1, mode="max", sort="value",
                   index_element_type="i32", stable=True)
    ids = ops.squeeze(top.output(1), ops.constant(np.int64(1)))
    classes = logits.get_partial_shape()[1]
    if classes.is_static and classes.get_length() <= 256:
        ids = ops.convert(ids, "u8")
    model.remove_result(result)
    model.add_results([ops.result(ids)])
    return model


class _OwnsExport(Runner):
    """A runtime runner that also owns the temporary export it reads (deleted on ``close``)."""

    def __init__(self, inner: Runner, folder: tempfile.TemporaryDirectory) -> None:
        self.inner = inner
        self.folder = folder
        self.name = inner.name
        self.device = inner.device
        self.precision = inner.precision
        self.num_classes = inner.num_classes
        self.align_corners = inner.align_corners
        self.record = inner.record

    def __call__(self, x: Tensor) -> Tensor:
        return self.inner(x)

    def labels(self, x: Tensor) -> Tensor:
        return self.inner.labels(x)

    def close(self) -> None:
        self.inner.close()
        self.folder.cleanup()


def build_runner(backend: str | None, source: nn.Module | str | os.PathLike, **options) -> Runner:
    """A runner of ``backend`` for ``source`` (a model, or an exported .onnx/.xml file).

    ``backend`` None: eager for a model, :func:`backend_for` a file. A model given to ``onnxruntime``/
    ``openvino`` is first exported to a temporary ONNX file, once (BatchNorm folded; ``export={"size": (H, W),
    "dynamic": False, "opset": 17}`` chooses how). See the module docstring for each backend's options.
    """
    if backend is None:
        backend = "eager" if isinstance(source, nn.Module) else backend_for(source)
    backend = canonical_backend(backend)
    if backend in ("eager", "compile"):
        if not isinstance(source, nn.Module):
            raise ValueError(f"the {backend} backend runs a PyTorch model, not the file {os.fspath(source)!r}")
        if backend == "compile":
            options.setdefault("compile_mode", options.pop("mode", "default"))
        else:
            options.pop("mode", None)
        options.pop("threads", None)  # torch's thread count is process-wide: set by the caller
        options.pop("export", None)  # how a model would be exported for the other runtimes
        if options.pop("calibration", None) is not None:
            raise ValueError("calibration images are for the openvino backend with precision int8")
        return TorchRunner(source, **options)
    if options.get("device") in (None, "auto"):
        options["device"] = "cpu"  # the exported runtimes run on the CPU unless CUDA is asked for
    export = options.pop("export", None)
    calibration = options.pop("calibration", None)
    folder = None
    align_corners = getattr(source, "align_corners", None)  # the model's, when a model is exported here
    if isinstance(source, nn.Module):
        if backend == "openvino":
            require("openvino")
        else:
            require("onnxruntime")
        source, folder = _export_for_runtime(source, export)
    elif not Path(source).is_file():
        raise FileNotFoundError(f"exported model not found: {os.fspath(source)!r}")
    if calibration is not None:
        if backend != "openvino" or options.get("precision") != "int8":
            raise ValueError("calibration images are for the openvino backend with precision int8")
        source, folder = _quantize_for_runtime(source, calibration, folder)
    for key in ("channels_last", "fold_bn", "cuda_graphs", "mode", "freezing", "dynamic"):
        options.pop(key, None)  # PyTorch-only options have no meaning for an exported graph
    runner_type = OnnxRuntimeRunner if backend == "onnxruntime" else OpenVINORunner
    try:
        runner = runner_type(source, **options)
    except BaseException:
        if folder is not None:
            folder.cleanup()
        raise
    if isinstance(align_corners, bool):
        runner.align_corners = align_corners
    return runner if folder is None else _OwnsExport(runner, folder)
