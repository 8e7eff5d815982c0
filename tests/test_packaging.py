"""What a base install (no extras) can do, and what the wheel ships: predicting images without OpenCV,
albumentations, Lightning or the export runtimes; the recipes by name; the LICENSE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = ("cv2", "albumentations", "lightning", "torchmetrics", "tensorboard", "scipy", "onnx", "onnxruntime",
               "onnxscript", "openvino", "nncf", "matplotlib")

BASE_INSTALL = f"""
import importlib.abc, sys
BLOCKED = {EXTRAS_ONLY!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not installed (a base install)")
        return None

sys.meta_path.insert(0, Block())
import numpy as np
from PIL import Image
import alignseg
from alignseg.cli import main

weights, image, out = sys.argv[1:4]
model = alignseg.create_model("sfnet_df1", num_classes=3)
alignseg.save_pretrained(model, weights, model="sfnet_df1", class_names=["a", "b", "c"])
Image.fromarray(np.zeros((64, 80, 3), np.uint8)).save(image)
assert main(["predict", image, "--weights", weights, "-o", out, "--quiet"]) == 0
label = alignseg.Predictor.from_pretrained(weights)(image).label
assert label.shape == (64, 80)
print("loaded:", sorted(m for m in BLOCKED if m in sys.modules))
"""


def test_a_base_install_predicts_images(tmp_path):
    result = subprocess.run([sys.executable, "-c", BASE_INSTALL, str(tmp_path / "model"), str(tmp_path / "x.png"),
                             str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loaded: []" in result.stdout
    assert any((tmp_path / "out").iterdir())


def test_the_wheel_ships_the_recipes_and_the_license():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["alignseg"]
    shipped = {p for pattern in patterns for p in (REPO / "alignseg").glob(pattern)}
    assert shipped == set((REPO / "alignseg" / "configs").rglob("*.yaml")) and shipped
    assert "safetensors>=0.4" in project["project"]["dependencies"]
    assert not [d for d in project["project"]["dependencies"] if d.split(">")[0] in ("opencv-python-headless",
                                                                                    "albumentations", "lightning")]
    assert (REPO / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert project["tool"]["setuptools"]["license-files"] == ["LICENSE"]
