"""Shared fixtures: the read-only reference material in ../shared (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(os.environ.get("ALIGNSEG_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Return a path inside the shared reference folder, skipping the test when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (set ALIGNSEG_SHARED to the shared/ folder)")
    return path


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


COCO_STUFF_NAMES = ("COCO_train2014_000000000077", "COCO_train2014_000000000078", "COCO_train2014_000000000079")
COCO_STUFF_BANDS = (0, 1, 13, 90, 92, 182)
"""Vertical bands of COCO-Stuff ids in every label of the tiny release: unlabeled, person, stop sign,
toothbrush, banner, wood (train ids 255, 0, 11, 79, 80, 170)."""


def coco_stuff_label(height: int, width: int):
    """A uint16 label matrix holding ``COCO_STUFF_BANDS`` as vertical bands."""
    import numpy as np

    label = np.zeros((height, width), dtype=np.uint16)
    for k, coco_id in enumerate(COCO_STUFF_BANDS):
        label[:, k * width // len(COCO_STUFF_BANDS):] = coco_id
    return label


def make_coco_stuff_release(root: Path) -> Path:
    """A tiny COCO-Stuff-10K release under ``root``: three real CamVid JPEGs with MATLAB v5 labels, two in
    imageLists/train.txt and one (written with its extension and spaces) in test.txt."""
    import shutil

    from scipy.io import savemat

    camvid = shared_path("data", "camvid")
    for folder in ("images", "annotations", "imageLists"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    frames = ("0001TP_006690", "0016E5_01470", "0016E5_08640")
    for frame, name in zip(frames, COCO_STUFF_NAMES, strict=True):
        shutil.copy(camvid / "images" / "train" / f"{frame}.jpg", root / "images" / f"{name}.jpg")
        savemat(root / "annotations" / f"{name}.mat", {"S": coco_stuff_label(360, 480), "names": ["unused"]})
    (root / "imageLists" / "train.txt").write_text("\n".join(COCO_STUFF_NAMES[:2]) + "\n\n")
    (root / "imageLists" / "test.txt").write_text(f"  {COCO_STUFF_NAMES[2]}.jpg  \n")
    return root
