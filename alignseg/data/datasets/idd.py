"""IDD (India Driving Dataset, ``IDD_Segmentation``) as the 19 Cityscapes train ids of the SFNet paper.

The release ships polygons only (``*_gtFine_polygons.json``); they are drawn here the way the official
tools draw them (AutoNUE ``preperation/json2labelImg.py``), or PNGs generated from them are read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from alignseg.data.datasets.base import SegmentationDataset, check_choice, find_pairs
from alignseg.data.errors import DataError
from alignseg.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IDD_ID_TO_TRAINID, IDD_LABELS, IDD_UNLABELED_ID
from alignseg.data.transforms import Transform

IDD_SPLITS = ("train", "val")
IDD_LABEL_FILES = {
    "polygons": "_gtFine_polygons.json",  # the official release
    "labelids": "_gtFine_labelids.png",  # AutoNUE createLabels.py --id-type id (what SFSegNets reads)
    "labelcsTrainIds": "_gtFine_labelcsTrainIds.png",  # createLabels.py --id-type csTrainId
    "19labelTrainIds": "_gtFine_labelids_19labelTrainIds.png",  # SFSegNets utils/idd_to_city.py (UDS)
}
_ID_OF_NAME = {row.name: row.id for row in IDD_LABELS}


def rasterize_idd_polygons(path: str | Path) -> np.ndarray:
    """The ``uint8`` label-id map (0..39, 35 = unlabeled) of an IDD ``*_polygons.json`` file.

    Objects are painted in file order (later ones on top); deleted objects and polygons of fewer than three
    points are skipped; an unknown name is retried without a trailing ``group`` and is otherwise an error.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"label file {path} does not exist")
    try:
        record = json.loads(path.read_text())
        width, height, objects = int(record["imgWidth"]), int(record["imgHeight"]), record["objects"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"cannot read label file {path}: {error!r} (expected IDD polygon JSON with imgWidth, "
                        "imgHeight and objects)") from error
    canvas = Image.new("L", (width, height), IDD_UNLABELED_ID)
    draw = ImageDraw.Draw(canvas)
    for number, obj in enumerate(objects):
        polygon = obj.get("polygon") or []
        if obj.get("deleted") or len(polygon) < 3:
            continue
        name = obj.get("label")
        if name not in _ID_OF_NAME and isinstance(name, str) and name.endswith("group"):
            name = name[: -len("group")]
        if name not in _ID_OF_NAME:
            raise DataError(f"label file {path}: object {number} has the label {obj.get('label')!r}, which is not "
                            "one of the 40 IDD labels")
        try:
            draw.polygon([(float(x), float(y)) for x, y in polygon], fill=_ID_OF_NAME[name])
        except (TypeError, ValueError) as error:
            raise DataError(f"label file {path}: object {number} has a malformed polygon: {error}") from error
    return np.array(canvas)


class IDD(SegmentationDataset):
    """``leftImg8bit/{train,val}/<drive>/<id>_leftImg8bit.png`` + ``gtFine/<same>/<id><label suffix>``.

    ``label_type``: ``polygons`` (drawn on load), ``labelids`` (the 40 label ids, mapped with the ``csTrainId``
    column as SFSegNets does), ``labelcsTrainIds`` or ``19labelTrainIds`` (files that already hold train ids).
    IDD's autorickshaw, curb, billboard, ... are ignored; 'non-drivable fallback' is terrain (spec 5.2).
    """

    splits = ("train", "val")
    prepared_label_type = "labelcsTrainIds"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        label_type: Literal["polygons", "labelids", "labelcsTrainIds", "19labelTrainIds"] = "polygons",
        *,
        transform: Transform | None = None,
    ):
        check_choice("IDD", "split", split, self.splits)
        check_choice("IDD", "label_type", label_type, tuple(IDD_LABEL_FILES))
        self.root, self.split, self.label_type = Path(root), split, label_type
        samples = find_pairs(
            self.root / "leftImg8bit" / split,
            self.root / "gtFine" / split,
            image_suffixes="_leftImg8bit.png",
            label_suffix=IDD_LABEL_FILES[label_type],
            what=f"IDD {split}",
            missing_hint="" if label_type == "polygons" else " (or use label_type='polygons')",
        )
        table = IDD_ID_TO_TRAINID if label_type in ("polygons", "labelids") else None
        super().__init__(samples, CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE, label_map=table,
                         transform=transform)

    def read_raw_label(self, path: Path) -> np.ndarray:
        return rasterize_idd_polygons(path) if path.name.endswith(".json") else super().read_raw_label(path)

    def prepared_label_path(self, label_path: Path) -> Path:
        """``<id>_gtFine_labelcsTrainIds.png`` beside the polygons or labelids file (createLabels.py's name)."""
        stem = label_path.name[: -len(IDD_LABEL_FILES[self.label_type])]
        return label_path.with_name(stem + IDD_LABEL_FILES["labelcsTrainIds"])
