"""Builders of tiny synthetic datasets in the official layouts (names, folders, encodings) of spec
datasets.md, written into a test's tmp_path. The file names are real ones from the spec's fixture lists;
the pixels are synthetic."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, height: int, width: int, value: int = 90) -> Path:
    """An RGB image (JPEG or PNG by suffix) of a flat colour plus a gradient."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((height, width, 3), value, np.uint8)
    image[..., 0] = (np.arange(width) * 7 % 256).astype(np.uint8)[None, :]
    Image.fromarray(image).save(path)
    return path


def write_label(path: Path, label: np.ndarray, palette: Sequence[tuple[int, int, int]] | None = None) -> Path:
    """A single-channel 8-bit PNG (mode L), or a palette PNG (mode P) when ``palette`` is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    label = np.ascontiguousarray(label, np.uint8)
    image = Image.frombytes("L" if palette is None else "P", label.shape[::-1], label.tobytes())
    if palette is not None:
        image.putpalette([v for color in palette for v in color])
    image.save(path)
    return path


def row_label(values: Sequence[int], height: int = 2) -> np.ndarray:
    """A ``height × len(values)`` label whose column k holds ``values[k]``."""
    return np.tile(np.asarray(values, np.uint8), (height, 1))


def pair(image: Path, label: Path, values: Sequence[int], palette=None) -> None:
    """Write an image and a label of one column per value."""
    write_label(label, row_label(values), palette)
    write_image(image, 2, len(values))


# --- per-dataset layouts --------------------------------------------------------------------------------

ADE_TRAIN = ("ADE_train_00000001", "ADE_train_00000002")


def make_ade20k(root: Path, values: Sequence[int]) -> Path:
    """``ADEChallengeData2016/{images,annotations}/training`` with two synthetic pairs holding ``values``."""
    for name in ADE_TRAIN:
        pair(root / "images" / "training" / f"{name}.jpg", root / "annotations" / "training" / f"{name}.png", values)
    return root


PC_TRAIN, PC_VAL = ("2008_000008", "2008_000015"), ("2008_000002", "2008_000003")


def make_pascal_context(root: Path, values: Sequence[int], layout: str = "mmseg") -> Path:
    """mmseg layout (``VOCdevkit/VOC2010``) or the CAR layout (``images``, ``labels``, ``train.txt``)."""
    images, labels, lists = {
        "mmseg": ("JPEGImages", "SegmentationClassContext", "ImageSets/SegmentationContext"),
        "car": ("images", "labels", "."),
    }[layout]
    for split, names in (("train", PC_TRAIN), ("val", PC_VAL)):
        for name in names:
            pair(root / images / f"{name}.jpg", root / labels / f"{name}.png", values)
        (root / lists).mkdir(parents=True, exist_ok=True)
        (root / lists / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return root


COCO_TRAIN, COCO_VAL = ("000000000009", "000000000025"), ("000000000139", "000000000285")


def make_coco_stuff164k(root: Path, values: Sequence[int], train_ids: Sequence[int] | None = None) -> Path:
    """``images/{train,val}2017/<id>.jpg`` + ``annotations/<same>/<id>.png`` (+ ``_labelTrainIds.png`` twins)."""
    for folder, names in (("train2017", COCO_TRAIN), ("val2017", COCO_VAL)):
        for name in names:
            pair(root / "images" / folder / f"{name}.jpg", root / "annotations" / folder / f"{name}.png", values)
            if train_ids is not None:
                write_label(root / "annotations" / folder / f"{name}_labelTrainIds.png", row_label(train_ids))
    return root


MAPILLARY_TRAIN = ("--NSVcUgfVhFd6uzkqHOOg", "--SWG8TJo7vrbZ_x5YLj6A")
MAPILLARY_VAL = ("--BJs76vloEaiH-wppzWNA", "-3-MmXdwhyIQhtb4-8NqHQ")


def make_mapillary(root: Path, values: Sequence[int], palette, version: str = "v1.2") -> Path:
    """``{training,validation}/images/<key>.jpg`` + palette PNG labels under ``v1.2/labels`` or ``labels`` (v1.1,
    with ``config.json`` at the root)."""
    for split, keys in (("training", MAPILLARY_TRAIN), ("validation", MAPILLARY_VAL)):
        labels = root / split / ("v1.2/labels" if version == "v1.2" else "labels")
        for key in keys:
            pair(root / split / "images" / f"{key}.jpg", labels / f"{key}.png", values, palette)
    if version == "v1.1":
        (root / "config.json").write_text(json.dumps({"labels": [{"color": list(c)} for c in palette]}))
    return root


IDD_FILES = {"train": (("0", "005506"), ("0", "005626")), "val": (("119", "035471"), ("119", "038937"))}


def idd_polygon_json(path: Path, width: int, height: int, objects: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"imgWidth": width, "imgHeight": height, "objects": objects}))
    return path


def column_objects(names: Sequence[str], height: int) -> list[dict]:
    """One object per name, covering columns 2k and 2k+1 of the image."""
    return [{"label": name, "polygon": [[2 * k, 0], [2 * k + 1, 0], [2 * k + 1, height - 1], [2 * k, height - 1]]}
            for k, name in enumerate(names)]


def make_idd(root: Path, names: Sequence[str], height: int = 4) -> Path:
    """``IDD_Segmentation``: ``leftImg8bit/{train,val,test}/<drive>/<id>_leftImg8bit.png`` and
    ``gtFine/{train,val}/<drive>/<id>_gtFine_polygons.json`` with one 2-pixel column per label name."""
    width = 2 * len(names)
    for split, files in IDD_FILES.items():
        for drive, image_id in files:
            write_image(root / "leftImg8bit" / split / drive / f"{image_id}_leftImg8bit.png", height, width)
            idd_polygon_json(root / "gtFine" / split / drive / f"{image_id}_gtFine_polygons.json", width, height,
                             column_objects(names, height))
    for image_id in ("001262", "034557"):  # test split: images only
        write_image(root / "leftImg8bit" / "test" / "103" / f"{image_id}_leftImg8bit.png", height, width)
    return root


BDD_TRAIN, BDD_VAL = ("0004a4c0-d4dff0ad", "00054602-3bf57337"), ("7d06fefd-f7be05a6", "7d128593-0ccfea4c")


def make_bdd100k(root: Path, values: Sequence[int], layout: str = "current") -> Path:
    """``bdd100k/`` in the current (``images/10k``, ``labels/sem_seg/masks``) or legacy (``seg/``) layout."""
    for split, names in (("train", BDD_TRAIN), ("val", BDD_VAL)):
        for name in names:
            if layout == "current":
                image = root / "images" / "10k" / split / f"{name}.jpg"
                label = root / "labels" / "sem_seg" / "masks" / split / f"{name}.png"
            else:
                image = root / "seg" / "images" / split / f"{name}.jpg"
                label = root / "seg" / "labels" / split / f"{name}_train_id.png"
            pair(image, label, values)
    if layout == "current":
        write_image(root / "images" / "10k" / "test" / "cabc30fc-e7726578.jpg", 2, 4)
    return root


CITYSCAPES_FILES = {"train": ("aachen", "aachen_000000_000019"), "val": ("frankfurt", "frankfurt_000000_000294")}


def make_cityscapes(root: Path, values: Sequence[int], label_type: str = "labelIds") -> Path:
    """``leftImg8bit/{split}/<city>/*_leftImg8bit.png`` + ``gtFine/<same>/*_gtFine_<label_type>.png``, 2 per split."""
    for split, (city, stem) in CITYSCAPES_FILES.items():
        for k in range(2):
            name = stem[:-1] + str(k)
            pair(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png",
                 root / "gtFine" / split / city / f"{name}_gtFine_{label_type}.png", values)
    return root
