"""COCO-Stuff: the 10K release (image lists + ``.mat`` labels) and the 164K release (PNGs), as 171 train ids."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alignseg.data.datasets.base import SegmentationDataset, check_choice, find_pairs, listed_pairs, read_name_list
from alignseg.data.errors import DataError
from alignseg.data.labels import (
    COCO_STUFF_CLASSES,
    COCO_STUFF_MAT_TO_TRAIN,
    COCO_STUFF_PALETTE,
    COCO_STUFF_PNG_TO_TRAIN,
    LabelMap,
)
from alignseg.data.transforms import Transform

COCO_STUFF_10K_SPLITS = {"train": "train", "test": "test", "val": "test", "all": "all"}
"""COCO-Stuff-10K has 9,000 train and 1,000 test images; papers report on test, so ``val`` is an alias of it."""

LABEL_FILES: dict[str, tuple[str, LabelMap | None]] = {
    "mat": (".mat", COCO_STUFF_MAT_TO_TRAIN),
    "stuffthingmaps": (".png", COCO_STUFF_PNG_TO_TRAIN),
    "labelTrainIds": ("_labelTrainIds.png", None),
}
"""Label types: the release's ``.mat`` files (0 = unlabeled, 1..182 = ids), PNGs holding id - 1 with 255 =
unlabeled (the COCO-Stuff-164K convention), or PNGs already holding train ids 0..170."""


class CocoStuff10k(SegmentationDataset):
    """``images/<name>.jpg`` + ``annotations/<name><suffix>``, the split's names read from ``imageLists/<split>.txt``.

    The 182 COCO-Stuff ids are mapped to 171 train ids (the 11 unused COCO thing ids are refused); class
    order is ascending COCO-Stuff id, the convention of the FaPN, HFGD and mmsegmentation tables.
    ``alignseg data prepare`` writes ``annotations/<name>_labelTrainIds.png``, read with ``label_type='labelTrainIds'``.
    """

    splits = ("train", "test")
    prepared_label_type = "labelTrainIds"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        label_type: Literal["mat", "stuffthingmaps", "labelTrainIds"] = "mat",
        *,
        transform: Transform | None = None,
    ):
        root = Path(root)
        if split not in COCO_STUFF_10K_SPLITS:
            raise DataError(
                f"COCO-Stuff-10K: unknown split {split!r}; valid splits: {', '.join(COCO_STUFF_10K_SPLITS)}"
            )
        if label_type not in LABEL_FILES:
            raise DataError(f"COCO-Stuff-10K: unknown label_type {label_type!r}; valid: {', '.join(LABEL_FILES)}")
        self.root, self.split, self.label_type = root, split, label_type
        suffix, label_map = LABEL_FILES[label_type]
        list_path = root / "imageLists" / f"{COCO_STUFF_10K_SPLITS[split]}.txt"
        if not list_path.is_file():
            raise DataError(
                f"COCO-Stuff-10K: image list {list_path} does not exist; expected the release layout "
                "images/, annotations/ and imageLists/{train,test}.txt under the root"
            )
        samples = listed_pairs(
            read_name_list(list_path, "COCO-Stuff-10K"),
            root / "images",
            root / "annotations",
            image_suffix=".jpg",
            label_suffix=suffix,
            what=f"COCO-Stuff-10K {split}",
            listed_in=list_path,
        )
        super().__init__(samples, COCO_STUFF_CLASSES, palette=COCO_STUFF_PALETTE, label_map=label_map,
                         transform=transform)



COCO_STUFF_164K_SPLITS = {"train": "train2017", "val": "val2017"}


class CocoStuff164k(SegmentationDataset):
    """``images/{train2017,val2017}/<id>.jpg`` + ``annotations/<same>/<id>.png`` (mmsegmentation's layout).

    ``stuffthingmaps`` labels (the official PNGs: COCO-Stuff id - 1, 255 unlabeled) go through the same
    171-class table as COCO-Stuff-10K's PNGs; ``labelTrainIds`` reads the ``<id>_labelTrainIds.png`` files
    that mmsegmentation's converter writes beside them (spec datasets.md 10).
    """

    splits = ("train", "val")
    prepared_label_type = "labelTrainIds"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        label_type: Literal["stuffthingmaps", "labelTrainIds"] = "stuffthingmaps",
        *,
        transform: Transform | None = None,
    ):
        check_choice("COCO-Stuff-164K", "split", split, self.splits)
        check_choice("COCO-Stuff-164K", "label_type", label_type, ("stuffthingmaps", "labelTrainIds"))
        self.root, self.split, self.label_type = Path(root), split, label_type
        suffix, label_map = LABEL_FILES[label_type]
        folder = COCO_STUFF_164K_SPLITS[split]
        samples = find_pairs(
            self.root / "images" / folder,
            self.root / "annotations" / folder,
            image_suffixes=".jpg",
            label_suffix=suffix,
            what=f"COCO-Stuff-164K {split}",
            label_exclude=("_labelTrainIds.png",) if label_type == "stuffthingmaps" else (),
        )
        super().__init__(samples, COCO_STUFF_CLASSES, palette=COCO_STUFF_PALETTE, label_map=label_map,
                         transform=transform)
