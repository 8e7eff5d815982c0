"""INT8 post-training quantisation of an exported model for OpenVINO on the CPU (NNCF), from real images.

NNCF inserts FakeQuantize nodes on the inputs and weights of convolutions and matrix products, with
ranges from statistics of the network's activations on calibration images; OpenVINO then runs those
layers in INT8 (AMX-INT8 or VNNI) and every other layer in the precision of its hint (bf16 on AMX CPUs).
Calibration needs images of the target domain: ranges from random noise would clip real activations.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .extras import require

DEFAULT_CALIBRATION_IMAGES = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted; an error names the folder when there are none."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"calibration folder {os.fspath(root)!r} does not exist")
    images = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {os.fspath(root)!r}")
    return images


def spread(items: Sequence, count: int) -> list:
    """``count`` items evenly spaced over ``items`` (all of them when there are fewer), in order."""
    if count < 1:
        raise ValueError(f"need at least one item, got count={count}")
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / max(count - 1, 1)
    return [items[round(i * step)] for i in range(count)]


def image_batch(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """One image file as the model's input: RGB resized to ``size`` (H, W), ImageNet-normalised, 1×3×H×W float32."""
    from ..data import read_image

    return rgb_batch(read_image(path), size)


def rgb_batch(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An ``H×W×3`` uint8 RGB array as the model's input at ``size`` (bilinear), 1×3×H×W float32."""
    from PIL import Image

    from ..data import IMAGENET_MEAN, IMAGENET_STD

    resized = Image.fromarray(rgb).resize((size[1], size[0]), Image.BILINEAR)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    array = (array - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1)[None])


def calibration_batches(folder: str | os.PathLike, size: tuple[int, int],
                        count: int = DEFAULT_CALIBRATION_IMAGES) -> list[np.ndarray]:
    """``count`` images spread over ``folder``, each as a 1×3×H×W input batch at ``size``."""
    return [image_batch(path, size) for path in spread(list_images(folder), count)]


def calibration_for(precision: str, folder: str | os.PathLike | None, size: tuple[int, int],
                    count: int = DEFAULT_CALIBRATION_IMAGES) -> list[np.ndarray] | None:
    """The calibration batches a runner of ``precision`` needs: from ``folder`` for int8, else none.

    int8 without a folder, or a folder without int8, is an error (it would be silently ignored otherwise).
    """
    if precision != "int8":
        if folder is not None:
            raise ValueError("--calibration is for --precision int8")
        return None
    if folder is None:
        raise ValueError("--precision int8 needs --calibration DIR: images of the target domain (e.g. the "
                         "training images) to set the INT8 ranges from")
    return calibration_batches(folder, size, count)


def is_quantized(model) -> bool:
    """Whether an OpenVINO model holds FakeQuantize nodes (was quantised by NNCF or a similar tool)."""
    return any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())


def input_layers(model) -> list[str]:
    """Names of the convolutions and matrix products that read a model input directly."""
    kinds = {"Convolution", "GroupConvolution", "MatMul"}
    return [target.get_node().get_friendly_name() for parameter in model.inputs
            for target in parameter.get_target_inputs() if target.get_node().get_type_name() in kinds]


def quantize_openvino(source: str | os.PathLike, calibration: Sequence[np.ndarray], output: str | os.PathLike,
                      *, preset: str = "performance", fast_bias_correction: bool = True,
                      keep_float: Sequence[str] = (), float_input_layer: bool = True,
                      rt_info: dict[str, str] | None = None) -> Path:
    """Quantise the network in ``source`` (.onnx or .xml) to INT8 with NNCF; write OpenVINO IR to ``output``.

    ``calibration`` holds input batches (see :func:`calibration_batches`) at the size the network will run
    at. ``preset`` "performance" quantises activations symmetrically (fastest), "mixed" asymmetrically
    (closer to fp32 after ReLU-free layers). ``keep_float`` holds regular expressions of node names left
    unquantised (e.g. ``".*flow_conv.*"``). ``float_input_layer`` keeps the layers that read the image in
    float: 8 bits of a normalised RGB image lose more than any later layer does (on a trained CamVid
    SFNet-R18 it halves the pixels that change class), for a few percent of the MACs.
    ``rt_info`` entries (e.g. the model's record) are written into the IR.
    The .xml/.bin pair appears at ``output`` only when complete.
    """
    ov = require("openvino")
    nncf = require("nncf", extra="int8")
    target = Path(output)
    if target.suffix != ".xml":
        raise ValueError(f"the INT8 model is OpenVINO IR: the output must end in .xml, got {os.fspath(target)!r}")
    if not calibration:
        raise ValueError("INT8 quantisation needs calibration images (none were given)")
    presets = {"performance": nncf.QuantizationPreset.PERFORMANCE, "mixed": nncf.QuantizationPreset.MIXED}
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}: choose from {', '.join(presets)}")
    model = ov.Core().read_model(os.fspath(source))
    names = input_layers(model) if float_input_layer else []
    ignored = nncf.IgnoredScope(names=names, patterns=list(keep_float), validate=False) if names or keep_float else None
    quantized = nncf.quantize(model, nncf.Dataset(list(calibration)), preset=presets[preset],
                              subset_size=len(calibration), fast_bias_correction=fast_bias_correction,
                              ignored_scope=ignored)
    for key, value in (rt_info or {}).items():
        quantized.set_rt_info(value, [key])
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".alignseg-int8-", dir=target.parent) as folder:
        staged = Path(folder) / target.name
        ov.save_model(quantized, os.fspath(staged), compress_to_fp16=False)
        for path in (staged, staged.with_suffix(".bin")):
            shutil.move(os.fspath(path), os.fspath(target.with_suffix(path.suffix)))
    return target
