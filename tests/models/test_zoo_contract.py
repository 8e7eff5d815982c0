"""The contract every zoo model keeps, checked for the whole zoo by one tester (as timm and smp do).

For each ``alignseg.list_models()`` entry, on tiny odd-sized inputs with few classes:
- the decoder is a ``Decoder`` whose features have ``feature_channels`` channels, and (unless it
  overrides ``forward``, as a guidance wrapper does) ``classify(forward_features(f).features)`` is its logits;
- eval ``forward`` returns one N×K×H×W logits tensor at the input size (no aux outputs);
- training ``forward`` returns exactly ``{"out", "aux", "loss_inputs"}`` with named 4-D aux logits;
- the zoo entry's criterion backpropagates to every trainable parameter, except those the entry declares
  unreached (``ZooEntry.unreached_parameters``: documented stop-gradients), which indeed get no gradient;
- the eval network exports to ONNX (dynamic H/W) and ONNX Runtime matches PyTorch at another size within
  the export parity tolerance at two other sizes.
"""

from __future__ import annotations

import fnmatch

import pytest
import torch

import alignseg
from alignseg.losses import build_criterion
from alignseg.models.decoders import Decoder
from alignseg.models.zoo import get_entry

CLASSES = 3
SIZE = (65, 97)  # odd: neither side a multiple of any stride or pooling bin
OTHER_SIZES = [(81, 113), (49, 129)]  # two other sizes: the dynamic H/W must hold at both
MODELS = alignseg.list_models()


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return alignseg.create_model(name, num_classes=CLASSES)


@pytest.mark.parametrize("name", MODELS)
def test_forward_and_backward_contract(name):
    model = build(name).eval()
    image = torch.randn(2, 3, *SIZE)  # a batch of 2: training-mode BatchNorm after 1×1 pooling needs it
    with torch.no_grad():
        logits = model(image[:1])
        features = model.backbone(image[:1])
        decoder = model.decoder
        assert isinstance(decoder, Decoder)
        split = decoder.forward_features(features)
        assert split.features.shape[1] == decoder.feature_channels
        if type(decoder).forward is Decoder.forward:  # a wrapper (HFGM) overrides forward with its own path
            torch.testing.assert_close(decoder.classify(split.features), decoder(features).logits, rtol=0, atol=0)
    assert isinstance(logits, torch.Tensor), "eval returns logits only, never aux outputs"
    assert logits.shape == (1, CLASSES, *SIZE) and torch.isfinite(logits).all()

    outputs = model.train()(image)
    assert set(outputs) == {"out", "aux", "loss_inputs"}
    assert outputs["out"].dim() == 4 and outputs["out"].shape[:2] == (2, CLASSES)
    assert all(a.dim() == 4 and a.shape[:2] == (2, CLASSES) for a in outputs["aux"].values()), list(outputs["aux"])
    assert all(isinstance(t, torch.Tensor) for t in outputs["loss_inputs"].values())

    entry = get_entry(name)
    labels = torch.randint(0, CLASSES, (2, *SIZE))
    labels[:, :5] = 255
    criterion = build_criterion(entry.loss_defaults, num_classes=CLASSES, align_corners=model.align_corners)
    loss, parts = criterion(outputs, labels)
    assert torch.isfinite(loss) and set(parts) >= {"main", *outputs["aux"]}
    loss.backward()

    def declared(param_name: str) -> bool:
        return any(fnmatch.fnmatchcase(param_name, pattern) for pattern in entry.unreached_parameters)

    params = dict(model.named_parameters())
    stale = [p for p in entry.unreached_parameters if not any(fnmatch.fnmatchcase(n, p) for n in params)]
    assert not stale, f"unreached_parameters patterns match no parameter: {stale}"
    unreached = [n for n, p in params.items() if p.requires_grad and not declared(n)
                 and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not unreached, f"the loss does not reach {len(unreached)} parameters, e.g. {unreached[:5]}"
    reached = [n for n, p in params.items() if declared(n) and p.grad is not None and p.grad.abs().sum() > 0]
    assert not reached, f"parameters declared unreached get gradients: {reached[:5]}"


@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_contract(name, tmp_path):
    pytest.importorskip("onnx", reason="onnx is in the [deploy] extra")
    pytest.importorskip("onnxruntime", reason="onnxruntime is in the [deploy] extra")
    from alignseg.deploy.export import export_model
    from alignseg.deploy.loading import calibrate_batchnorm

    model = build(name)
    # trained-like activations instead of untouched statistics; at the tiny SIZE the deepest maps are 3×4 and
    # their statistics blow activations up past the parity tolerance (sfnet_lite_stdc2_convgate, 1.7e-4)
    calibrate_batchnorm(model, size=(128, 192))
    report = export_model(model.eval(), tmp_path / f"{name}.onnx", size=SIZE, check_sizes=OTHER_SIZES)
    assert report.passed and [check.size for check in report.checks] == OTHER_SIZES  # else ParityError
