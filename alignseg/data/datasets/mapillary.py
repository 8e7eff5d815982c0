"""Mapillary Vistas v1.1 / v1.2 as its 65 classes (SFNet's benchmark) or as the 19 Cityscapes train ids (UDS)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alignseg.data.datasets.base import SegmentationDataset, check_choice, find_pairs
from alignseg.data.errors import DataError
from alignseg.data.labels import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    MAPILLARY_CLASSES,
    MAPILLARY_PALETTE,
    MAPILLARY_TO_CITYSCAPES,
    MAPILLARY_TO_TRAIN,
)
from alignseg.data.transforms import Transform

MAPILLARY_SPLITS = {"train": "training", "val": "validation"}
CONVERTED_SUFFIX = "_19labelTrainIds.png"
"""What SFSegNets' ``utils/mapillary_to_city.py`` writes beside each raw label (already 19 train ids)."""


class Mapillary(SegmentationDataset):
    """``{training,validation}/images/<key>.jpg`` + the 8-bit palette PNGs of label indices 0..65, read from
    ``<split>/v1.2/labels/`` (v1.2 release) or ``<split>/labels/`` (v1.1 research edition), whichever exists.

    ``classes=65``: the released SFNet benchmark (indices 0..64, 65 'Unlabeled' ignored); ``classes=19``:
    the Cityscapes classes through SFSegNets' (= RobustNet's) map (spec datasets.md 4.2).
    ``label_type="19labelTrainIds"`` reads the released converter's ``<key>_19labelTrainIds.png`` files instead.
    The pixel values are the classes (never the palette colours); values above 65 (v2.0 labels) are errors.
    """

    splits = ("train", "val")

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        classes: Literal[65, 19] = 65,
        label_type: Literal["labels", "19labelTrainIds"] = "labels",
        transform: Transform | None = None,
    ):
        check_choice("Mapillary", "split", split, self.splits)
        check_choice("Mapillary", "classes", classes, (65, 19))
        check_choice("Mapillary", "label_type", label_type, ("labels", "19labelTrainIds"))
        if label_type == "19labelTrainIds" and classes != 19:
            raise DataError("Mapillary: label_type '19labelTrainIds' holds the Cityscapes classes; set classes=19")
        self.root, self.split, self.classes, self.label_type = Path(root), split, classes, label_type
        folder = self.root / MAPILLARY_SPLITS[split]
        labels = folder / "v1.2" / "labels"
        if not labels.is_dir():
            labels = folder / "labels"
        if not labels.is_dir():
            raise DataError(
                f"Mapillary {split}: neither {folder / 'v1.2' / 'labels'} (v1.2) nor {labels} (v1.1) exists"
            )
        converted = label_type == "19labelTrainIds"
        samples = find_pairs(
            folder / "images",
            labels,
            image_suffixes=".jpg",
            label_suffix=CONVERTED_SUFFIX if converted else ".png",
            what=f"Mapillary {split}",
            label_exclude=() if converted else (CONVERTED_SUFFIX,),
        )
        if classes == 65:
            names, palette, table = MAPILLARY_CLASSES, MAPILLARY_PALETTE, MAPILLARY_TO_TRAIN
        else:
            names, palette = CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
            table = None if converted else MAPILLARY_TO_CITYSCAPES
        # prepare: the 19-class train ids in the released converter's files (the 65 classes need no table)
        self.prepared_label_type = "19labelTrainIds" if classes == 19 else None
        super().__init__(samples, names, palette=palette, label_map=table, transform=transform)

    def prepared_label_path(self, label_path: Path) -> Path:
        return label_path.with_name(label_path.stem + CONVERTED_SUFFIX)
