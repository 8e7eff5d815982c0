"""Export round trips through ``export_model``: BN folded, aux heads gone, parity at sizes other than the export's."""

from __future__ import annotations

import json

import pytest
import torch

from alignseg.deploy.export import ParityError, default_check_sizes, export_model
from alignseg.deploy.loading import random_model
from alignseg.deploy.onnx_graph import prepare_for_export
from alignseg.models.checkpoint import ModelRecord

onnx = pytest.importorskip("onnx", reason="onnx is in the [deploy] extra")
pytest.importorskip("onnxruntime", reason="onnxruntime is in the [deploy] extra")

EXPORT_SIZE = (128, 256)
CHECK_SIZES = [(96, 160), (200, 330)]  # 200x330: not a multiple of 32 or 96; PPM bins do not divide the map


@pytest.mark.parametrize("name", ["sfnet_r18", "sfnet_lite_r18", "fapn_r18"])
def test_export_round_trip_with_parity(name, tmp_path):
    model = random_model(name, seed=1)
    model.aux_heads.append(torch.nn.Conv2d(8, 19, 1))  # a train-only head: must not reach the export
    path = tmp_path / f"{name}.onnx"
    report = export_model(model, path, size=EXPORT_SIZE, check_sizes=CHECK_SIZES, record=ModelRecord(model=name))
    assert report.passed and [c.size for c in report.checks] == CHECK_SIZES
    for check in report.checks:
        assert check.max_abs_diff < 1e-4 and check.argmax_agreement >= 0.999
    assert report.folded_batchnorms > 0

    proto = onnx.load(str(path))
    assert [o.name for o in proto.graph.output] == ["logits"] and len(proto.graph.input) == 1
    ops = {node.op_type for node in proto.graph.node}
    assert "BatchNormalization" not in ops, "BatchNorm must be folded into the convolutions"
    names = [node.name for node in proto.graph.node] + [init.name for init in proto.graph.initializer]
    assert not [n for n in names if "aux" in n], "deep-supervision heads must not be in the graph"
    record = json.loads({p.key: p.value for p in proto.metadata_props}["alignseg"])
    assert record["model"] == name and record["num_classes"] == 19 and "input_size" not in record
    assert record["align_corners"] is (name != "fapn_r18")
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]


def test_static_export_and_failed_parity_leave_no_file(tmp_path):
    model = random_model("sfnet_lite_r18")
    static = export_model(model, tmp_path / "static.onnx", size=(64, 128), dynamic=False)
    assert static.passed and [c.size for c in static.checks] == [(64, 128), (64, 128)]
    dims = onnx.load(str(tmp_path / "static.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 3, 64, 128]

    with pytest.raises(ParityError, match="does not match PyTorch") as failure:
        export_model(model, tmp_path / "bad.onnx", size=(64, 128), max_abs_diff=0.0, noise_floor=None)
    assert not failure.value.report.passed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["static.onnx"], "no partial or temporary files"


def test_prepare_for_export_removes_heads_and_keeps_the_original():
    model = random_model("sfnet_df1")
    assert len(model.aux_heads) == 2
    prepared = prepare_for_export(model)
    assert len(prepared.aux_heads) == 0 and len(model.aux_heads) == 2
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in prepared.modules())


def test_default_check_sizes():
    assert default_check_sizes((1024, 2048), dynamic=True) == [(769, 1537), (513, 1025)]
    assert all(h % 32 and w % 32 for h, w in default_check_sizes((128, 256), dynamic=True))
    assert default_check_sizes((64, 64), dynamic=True, min_side=32) == [(49, 49), (33, 33)]
    assert default_check_sizes((96, 96), dynamic=False) == [(96, 96), (96, 96)]


def test_bad_arguments(tmp_path):
    model = random_model("sfnet_lite_r18")
    with pytest.raises(ValueError, match=r"must end in \.xml"):
        export_model(model, tmp_path / "m.onnx", format="openvino")
    with pytest.raises(ValueError, match="unknown format"):
        export_model(model, tmp_path / "m.trt", format="tensorrt")
    with pytest.raises(ValueError, match="smaller than the network's output stride"):
        export_model(model, tmp_path / "m.onnx", size=(16, 64))
    with pytest.raises(ValueError, match="static export runs at 64x128 only"):
        export_model(model, tmp_path / "m.onnx", size=(64, 128), dynamic=False, check_sizes=[(96, 160)])
