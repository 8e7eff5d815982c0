"""Export an eval model to ONNX or OpenVINO IR and prove the export computes what PyTorch computes.

``export_model`` prepares the eval network (deep-supervision heads removed, BatchNorm folded into the
convolutions), exports it, then runs the export and the original PyTorch model on random images at two
sizes and compares them: the largest absolute logit difference and the share of pixels whose argmax
(predicted class) agrees. The file appears at the output path only when parity holds; otherwise a
``ParityError`` names the failing size and figures and nothing is left behind.

The graph itself is written by ``onnx_graph.export_onnx`` (exporters and opsets are described there).
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..models.checkpoint import ModelRecord
from .extras import require
from .loading import num_classes_of
from .onnx_graph import DEFAULT_OPSET, export_onnx, prepare_for_export
from .runtimes import RECORD_KEY, OnnxRuntimeRunner, OpenVINORunner

DEFAULT_MAX_ABS_DIFF = 1e-4
DEFAULT_MIN_AGREEMENT = 0.999
DEFAULT_NOISE_FLOOR = 2.0
FORMATS = ("onnx", "openvino")


class ParityError(RuntimeError):
    """An exported model does not give PyTorch's logits within the thresholds."""


@dataclass(frozen=True)
class ParityCheck:
    """One comparison of exported and PyTorch logits on a random image of ``size``.

    ``export_fp64_error``/``torch_fp64_error`` are the largest differences of the export and of PyTorch
    fp32 from PyTorch in float64, measured only when ``max_abs_diff`` missed the absolute threshold.
    """

    size: tuple[int, int]
    max_abs_diff: float
    argmax_agreement: float
    passed: bool
    export_fp64_error: float | None = None
    torch_fp64_error: float | None = None

    def line(self, verdict: bool = True) -> str:
        size = f"{self.size[0]}x{self.size[1]}"
        line = f"  {size:>11s}  {self.max_abs_diff:>11.3e}  {100 * self.argmax_agreement:>15.4f}%"
        if verdict:
            line += "  ok" if self.passed else "  FAILED"
        if self.export_fp64_error is not None:
            line += (f"  (max |diff| from PyTorch float64: export {self.export_fp64_error:.3e}, "
                     f"PyTorch fp32 {self.torch_fp64_error:.3e})")
        return line


@dataclass
class ExportReport:
    """What was exported, how, and the parity checks."""

    path: Path
    format: str
    exporter: str
    opset: int
    dynamic: bool
    size: tuple[int, int]
    folded_batchnorms: int
    runtime: str = ""
    int8_calibration_images: int = 0
    max_abs_diff_threshold: float | None = DEFAULT_MAX_ABS_DIFF
    min_agreement_threshold: float = DEFAULT_MIN_AGREEMENT
    noise_floor: float | None = DEFAULT_NOISE_FLOOR
    checks: list[ParityCheck] = field(default_factory=list)

    @property
    def mean_agreement(self) -> float:
        """Argmax agreement over all checked pixels (the checks' images have one size each)."""
        pixels = [c.size[0] * c.size[1] for c in self.checks]
        return sum(c.argmax_agreement * n for c, n in zip(self.checks, pixels, strict=True)) / sum(pixels)

    @property
    def passed(self) -> bool:
        """Every check passed; an INT8 export is judged on its mean agreement over the check images instead
        (one image's agreement swings by tenths of a percent with its content)."""
        if self.int8_calibration_images:
            return bool(self.checks) and self.mean_agreement >= self.min_agreement_threshold
        return all(check.passed for check in self.checks)

    def summary(self) -> str:
        shape = "dynamic H/W" if self.dynamic else "static H/W"
        lines = [f"export: {self.format} (opset {self.opset}, {self.exporter} exporter, {shape}, traced at "
                 f"{self.size[0]}x{self.size[1]}), {self.folded_batchnorms} BatchNorms folded into convolutions, "
                 "deep-supervision heads removed"]
        if self.int8_calibration_images:
            lines.append(f"INT8: post-training quantisation (NNCF) calibrated on {self.int8_calibration_images} "
                         "images; parity checked on other images of the calibration folder")
        if self.checks:
            if self.max_abs_diff_threshold is None:
                limit = "max |diff| reported only"
            else:
                floor = (f" (or an error from PyTorch float64 at most {self.noise_floor:g}x PyTorch fp32's own)"
                         if self.noise_floor else "")
                limit = f"max |diff| < {self.max_abs_diff_threshold:g}{floor}"
            lines.append(f"parity vs PyTorch eager fp32 ({self.runtime}); thresholds: {limit}, argmax agreement >= "
                         f"{100 * self.min_agreement_threshold:g}%")
            lines.append(f"  {'size':>11s}  {'max |diff|':>11s}  {'argmax agreement':>16s}")
            lines.extend(check.line(verdict=not self.int8_calibration_images) for check in self.checks)
            if self.int8_calibration_images:
                verdict = "ok" if self.passed else "FAILED"
                lines.append(f"  mean argmax agreement over {len(self.checks)} images: "
                             f"{100 * self.mean_agreement:.4f}%  {verdict}")
        return "\n".join(lines)


def default_check_sizes(size: tuple[int, int], *, dynamic: bool, min_side: int = 32) -> list[tuple[int, int]]:
    """Two sizes for the parity check: with dynamic H/W about 3/4 and 1/2 of ``size``, odd (so multiples of
    neither 32 nor 96, where pooling bins and strides do not divide evenly); else ``size`` twice."""
    if not dynamic:
        return [tuple(size), tuple(size)]

    def odd(value: int) -> int:
        return max(value, min_side + 1) | 1

    height, width = size
    return [(odd(height * 3 // 4), odd(width * 3 // 4)), (odd(height // 2), odd(width // 2))]


def compare_logits(reference: Tensor, logits: Tensor) -> tuple[float, float]:
    """Largest absolute difference and the share of pixels with the same argmax class."""
    if reference.shape != logits.shape:
        raise ParityError(f"the export gives logits of shape {tuple(logits.shape)}, PyTorch {tuple(reference.shape)}")
    reference, logits = reference.float().cpu(), logits.float().cpu()
    diff = (reference - logits).abs().max().item()
    agreement = (reference.argmax(1) == logits.argmax(1)).float().mean().item()
    return diff, agreement


def check_parity(
    model: nn.Module,
    runner,
    sizes: Sequence[tuple[int, int]],
    *,
    max_abs_diff: float | None = DEFAULT_MAX_ABS_DIFF,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    noise_floor: float | None = DEFAULT_NOISE_FLOOR,
    seed: int = 0,
    images: Sequence[Tensor] | None = None,
) -> list[ParityCheck]:
    """Compare ``runner`` with the PyTorch ``model`` (eval, fp32) on one random image per size.

    ``images`` (1×3×H×W input batches, e.g. real photographs) replace the random images; ``sizes`` is then
    ignored. A size passes when the argmax agreement reaches ``min_agreement`` and the largest logit
    difference is below ``max_abs_diff`` (None: reported, not required, as for an INT8 model whose logits
    move by quantisation steps). Deep networks and large inputs carry more float32 rounding than 1e-4 (PyTorch
    fp32 itself is ~1e-3 away from float64 for ResNet-101 with fresh weights; bilinear sampling positions
    near 2048 are rounded to ~1e-4 px), so with ``noise_floor`` a miss is looked at again against PyTorch
    in float64: the size passes when the export's error is at most ``noise_floor`` times PyTorch fp32's own
    (the export is as exact as PyTorch is). The float64 pass is slow on big inputs but runs only then.
    """
    model = model.eval()
    channels = getattr(getattr(model, "backbone", None), "in_channels", 3)
    model64 = None
    checks = []
    if images is None:
        images = [torch.randn(1, channels, *size, generator=torch.Generator().manual_seed(seed + index))
                  for index, size in enumerate(sizes)]
    for image in images:
        size = tuple(image.shape[-2:])
        with torch.inference_mode():
            reference = model(image)
        logits = runner(image)
        diff, agreement = compare_logits(reference, logits)
        within = max_abs_diff is None or diff < max_abs_diff
        export_error = torch_error = None
        if not within and noise_floor:
            model64 = model64 if model64 is not None else copy.deepcopy(model).double()
            with torch.inference_mode():
                reference64 = model64(image.double())
            export_error = (logits.double() - reference64).abs().max().item()
            torch_error = (reference.double() - reference64).abs().max().item()
            within = export_error <= noise_floor * torch_error
        checks.append(ParityCheck(size, diff, agreement, within and agreement >= min_agreement,
                                  export_error, torch_error))
    return checks


def export_model(
    model: nn.Module,
    output: str | os.PathLike,
    *,
    format: str = "onnx",
    size: tuple[int, int] = (1024, 2048),
    opset: int | None = None,
    dynamic: bool = True,
    exporter: str = "legacy",
    check_sizes: Sequence[tuple[int, int]] | None = None,
    max_abs_diff: float = DEFAULT_MAX_ABS_DIFF,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    noise_floor: float | None = DEFAULT_NOISE_FLOOR,
    threads: int | None = None,
    record: ModelRecord | None = None,
    check: bool = True,
    int8_calibration: Sequence[np.ndarray] | None = None,
    int8_check_images: Sequence[np.ndarray] | None = None,
) -> ExportReport:
    """Export the eval network of ``model`` to ``output`` (.onnx, or .xml for OpenVINO IR) with parity checks.

    Raises ``ParityError`` (leaving no file behind) when a check at ``check_sizes`` (default:
    ``default_check_sizes``) misses ``max_abs_diff`` or ``min_agreement``; the error carries the report.
    OpenVINO IR is written with fp32 weights and checked with OpenVINO in f32. ``record`` (what a checkpoint
    says about the model: name, classes, palette, normalisation; completed with the number of classes, the
    resize convention and, for a static export, the size) travels inside the file, as JSON under ``alignseg``
    in the ONNX ``metadata_props`` or the OpenVINO ``rt_info``, so ``alignseg predict --weights`` runs it.

    ``int8_calibration`` (input batches from real images, at ``size``) quantises the OpenVINO IR to INT8
    with NNCF; it is then checked with OpenVINO int8 on ``int8_check_images`` (other real images), on the
    mean argmax agreement over them (``max_abs_diff`` is reported, not required: quantisation moves logits).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}: choose from {', '.join(FORMATS)}")
    target = Path(output)
    suffix = ".onnx" if format == "onnx" else ".xml"
    if target.is_dir() or target.suffix != suffix:
        what = "is a folder" if target.is_dir() else f"must end in {suffix}"
        raise ValueError(f"the {format} output {os.fspath(target)!r} {what}: give a file path such as "
                         f"{os.fspath(target.with_suffix('') / ('model' + suffix))!r}")
    stride = int(getattr(model, "output_stride", 32))
    if min(size) < stride:
        raise ValueError(f"export size {size[0]}x{size[1]} is smaller than the network's output stride {stride}")
    if format == "openvino":
        ov = require("openvino")
    else:
        require("onnxruntime")
    if int8_calibration is not None:
        if format != "openvino":
            raise ValueError("INT8 quantisation writes OpenVINO IR: use format 'openvino'")
        if check and not int8_check_images:
            raise ValueError("an INT8 export is checked on real images: give int8_check_images (or check=False)")
        max_abs_diff = None
    if not dynamic and check_sizes and any(tuple(c) != tuple(size) for c in check_sizes):
        raise ValueError(f"a static export runs at {size[0]}x{size[1]} only: check sizes must be that size "
                         "(or export with dynamic H/W)")
    model = model.eval()
    align_corners = getattr(model, "align_corners", None)
    record = (record or ModelRecord()).replace(
        num_classes=num_classes_of(model), input_size=None if dynamic else tuple(size),
        align_corners=align_corners if isinstance(align_corners, bool) else None)
    metadata = {RECORD_KEY: record.to_json()}
    prepared = prepare_for_export(model)
    opset = opset if opset is not None else (DEFAULT_OPSET if exporter == "legacy" else 18)
    report = ExportReport(target, format, exporter, opset, dynamic, tuple(size), prepared.folded_batchnorms,
                          max_abs_diff_threshold=max_abs_diff, min_agreement_threshold=min_agreement,
                          noise_floor=noise_floor, int8_calibration_images=len(int8_calibration or ()))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".alignseg-export-", dir=target.parent) as folder:
        onnx_path = export_onnx(prepared, Path(folder) / "model.onnx", size=size, opset=opset, dynamic=dynamic,
                                exporter=exporter, metadata=metadata)
        if format == "onnx":
            written = [onnx_path]
            runner = OnnxRuntimeRunner(onnx_path, threads=threads) if check else None
        elif int8_calibration is not None:
            from .quantize import quantize_openvino

            xml_path = quantize_openvino(onnx_path, int8_calibration, Path(folder) / "model.xml", rt_info=metadata)
            written = [xml_path, xml_path.with_suffix(".bin")]
            runner = OpenVINORunner(xml_path, precision="int8", threads=threads) if check else None
        else:
            xml_path = Path(folder) / "model.xml"
            converted = ov.convert_model(os.fspath(onnx_path))
            for key, value in metadata.items():
                converted.set_rt_info(value, [key])
            ov.save_model(converted, os.fspath(xml_path), compress_to_fp16=False)
            written = [xml_path, xml_path.with_suffix(".bin")]
            runner = OpenVINORunner(xml_path, precision="fp32", threads=threads) if check else None
        if runner is not None:
            report.runtime = runner.name
            sizes = check_sizes or default_check_sizes(size, dynamic=dynamic, min_side=stride)
            images = None if int8_calibration is None else [torch.from_numpy(b) for b in int8_check_images]
            try:  # INT8: each image is reported, the mean over them is judged (ExportReport.passed)
                report.checks = check_parity(model, runner, sizes, max_abs_diff=max_abs_diff,
                                             min_agreement=0.0 if images else min_agreement,
                                             noise_floor=noise_floor, images=images)
            finally:
                runner.close()
            if not report.passed and images:
                error = ParityError(
                    f"the INT8 export agrees with PyTorch on {100 * report.mean_agreement:.4f}% of the pixels of "
                    f"{len(images)} check images, below {100 * min_agreement:g}% (calibrate on more or more "
                    f"typical images, or lower --min-agreement knowingly); nothing was written to "
                    f"{os.fspath(target)!r}"
                )
                error.report = report
                raise error
            if not report.passed:
                failed = [c for c in report.checks if not c.passed]
                error = ParityError(
                    f"the {format} export does not match PyTorch at {len(failed)} of {len(report.checks)} sizes "
                    f"(first: {failed[0].size[0]}x{failed[0].size[1]}, max |diff| {failed[0].max_abs_diff:.3e}, "
                    f"argmax agreement {100 * failed[0].argmax_agreement:.4f}%; thresholds "
                    f"{'none' if max_abs_diff is None else f'< {max_abs_diff:g}'} and >= {100 * min_agreement:g}%); "
                    f"nothing was written to {os.fspath(target)!r}"
                )
                error.report = report
                raise error
        install(written, target)
    return report


def install(written: Sequence[Path], target: Path) -> None:
    """Move the files of an export (``written``, beside each other in a temporary folder of ``target``'s
    folder) into place as ``target`` with their suffixes, each by one atomic rename.

    OpenVINO IR is two files read as a pair (``model.xml`` names no .bin: the one beside it is read). The old
    .xml is removed first, the .bin renamed next and the .xml, the file users and ``--weights`` name, last: a
    kill at any point leaves the old pair, or a .bin without its .xml (an error naming the missing .xml), never
    a new .bin read with an old .xml. A content-named .bin was not chosen: OpenVINO reads ``<stem>.bin``.
    """
    entry = target.with_suffix(written[0].suffix)
    if len(written) > 1:
        entry.unlink(missing_ok=True)
    for path in [*written[1:], written[0]]:
        os.replace(path, target.with_suffix(path.suffix))
