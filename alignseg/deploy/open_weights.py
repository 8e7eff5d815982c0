"""A weights file opened as a runner: the one path from a checkpoint or an exported .onnx/.xml to inference."""

from __future__ import annotations

import os
from pathlib import Path

from ..models.checkpoint import ModelRecord
from ..models.factory import load_model
from ..models.weights import WeightsError
from .runtimes import Runner, build_runner, is_exported

EXPORT_SIZE = (256, 512)
"""A checkpoint run on onnxruntime/openvino is exported once, with dynamic height and width, traced at this size."""


def open_runner(weights: str | os.PathLike, backend: str | None = None, *, model: str | None = None,
                num_classes: int | None = None, calibration: str | os.PathLike | None = None,
                **options) -> tuple[Runner, ModelRecord]:
    """A runner of ``backend`` for a weights file and what the file says about its model: a checkpoint through
    ``load_model`` (exported here for onnxruntime/openvino), an exported .onnx/.xml as it is. ``model`` /
    ``num_classes`` name what a file without a record holds; one that records otherwise is refused.
    ``calibration``: the image folder an openvino ``int8`` runner is quantised from (an INT8 .xml needs none)."""
    from .quantize import calibration_for

    precision = options.get("precision", "fp32")
    if not is_exported(weights):
        network, record = load_model(weights, model=model, num_classes=num_classes)
        runner = build_runner(backend, network, **options, export={"size": EXPORT_SIZE},
                              calibration=calibration_for(precision, calibration, EXPORT_SIZE))
        return runner, record
    if not Path(weights).is_file():
        raise WeightsError(f"exported model not found: {os.fspath(weights)!r}")
    quantized = precision == "int8" and calibration is None  # an INT8 IR runs as it is (checked there)
    runner = build_runner(backend, weights, **options,
                          calibration=None if quantized else calibration_for(precision, calibration, EXPORT_SIZE))
    record = runner.record or ModelRecord()
    for key, asked in (("model", model), ("num_classes", num_classes)):
        stored = getattr(record, key)
        if asked is not None and stored is not None and asked != stored:
            runner.close()
            raise WeightsError(f"{os.fspath(weights)} holds {key} {stored}, not {asked}")
    return runner, record.replace(model=record.model or model, num_classes=record.num_classes or num_classes)
