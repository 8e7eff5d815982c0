"""Optional packages of the deployment tools, imported only when a tool needs them."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An optional package is not installed; the message names the alignseg extra that installs it."""


def require(module: str, extra: str = "deploy") -> ModuleType:
    """Import ``module`` or raise a ``MissingExtraError`` that names the alignseg extra which installs it.

    The deployment runtimes (onnx, onnxruntime, openvino) are optional; nothing in alignseg imports them
    at import time, so the library works without them until a user asks for an export or a runtime.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        raise MissingExtraError(f"{package} is not installed: pip install 'alignseg[{extra}]'") from exc


def require_training_extra(*, lightning: bool = True) -> None:
    """Check the ``train`` extra before a command starts: Lightning (unless ``lightning`` is False: evaluation
    needs only the datasets), OpenCV and albumentations; one line naming the extra when one is missing."""
    for module in ("lightning", "cv2", "albumentations") if lightning else ("cv2", "albumentations"):
        require(module, extra="train")
