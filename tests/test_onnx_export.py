"""Zoo models exported to ONNX (opset 17, dynamic H/W) give PyTorch's logits at other sizes in onnxruntime.

This guards the export-safety of the ops (flow warp normaliser, adaptive pooling built from shapes);
the deployment tool has its own tests.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import alignseg

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the [deploy] extra")
pytest.importorskip("onnx", reason="onnx is in the [deploy] extra")


def export(model: torch.nn.Module, path, size: tuple[int, int]) -> None:
    torch.onnx.export(
        model, (torch.randn(1, 3, *size),), str(path), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}},
    )


@pytest.mark.parametrize("name", ["sfnet_r18", "sfnet_lite_r18", "fapn_r18"])
def test_export_runs_at_other_sizes_with_parity(name, tmp_path):
    torch.manual_seed(0)
    model = alignseg.create_model(name, num_classes=19).eval()
    # random BN statistics so that a mis-exported normalisation or pooling would show, and non-zero
    # deformable offsets (FaPN's are zero at init) so that a mis-exported sampling would show too
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
        if hasattr(module, "conv_offset_mask"):
            torch.nn.init.normal_(module.conv_offset_mask.weight, std=0.01)
            torch.nn.init.normal_(module.conv_offset_mask.bias, std=0.5)
    path = tmp_path / f"{name}.onnx"
    export(model, path, (128, 192))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in ((96, 160), (200, 330)):  # 200x330: not a multiple of 32, PPM bins do not divide the map
        image = torch.randn(1, 3, *size)
        with torch.no_grad():
            expected = model(image).numpy()
        (got,) = session.run(None, {"image": image.numpy()})
        assert got.shape == expected.shape == (1, 19, *size)
        assert np.abs(got - expected).max() < 1e-4, (size, np.abs(got - expected).max())
