"""Cityscapes fine annotations in the official folder layout, as 19 train ids."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alignseg.data.datasets.base import SegmentationDataset, find_pairs
from alignseg.data.errors import DataError
from alignseg.data.labels import CITYSCAPES_CLASSES, CITYSCAPES_ID_TO_TRAINID, CITYSCAPES_PALETTE
from alignseg.data.transforms import Transform

CITYSCAPES_SPLITS = {"train": ("train",), "val": ("val",), "test": ("test",), "trainval": ("train", "val")}
LABEL_TYPES = ("labelIds", "labelTrainIds")


class Cityscapes(SegmentationDataset):
    """Images ``leftImg8bit/{split}/{city}/*_leftImg8bit.png``, labels ``gtFine/{split}/{city}/*.png``.

    ``labelIds`` files (the official download) are mapped to the 19 train ids with the Cityscapes table;
    ``labelTrainIds`` files (made by cityscapesScripts or ``alignseg data prepare``) are used as they are.

    ``coarse=True`` appends the ~20k coarse images ``leftImg8bit/train_extra`` + ``gtCoarse/train_extra``
    (``*_gtCoarse_<label_type>.png``, same table) after the fine ones. They are not part of an epoch
    (``primary_length`` counts the fine images): the class-uniform sampler draws them only as extra
    centroids of its boost classes (the released coarse boost, spec datasets.md 3).
    """

    splits = ("train", "val")  # test labels hold no classes (server-side evaluation)
    prepared_label_type = "labelTrainIds"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        label_type: Literal["labelIds", "labelTrainIds"] = "labelIds",
        *,
        coarse: bool = False,
        transform: Transform | None = None,
    ):
        root = Path(root)
        if split not in CITYSCAPES_SPLITS:
            raise DataError(f"Cityscapes: unknown split {split!r}; valid splits: {', '.join(CITYSCAPES_SPLITS)}")
        if label_type not in LABEL_TYPES:
            raise DataError(f"Cityscapes: unknown label_type {label_type!r}; valid: {', '.join(LABEL_TYPES)}")
        self.root, self.split, self.label_type = root, split, label_type
        hint = (
            "; generate *_labelTrainIds.png with cityscapesScripts or use label_type='labelIds'"
            if label_type == "labelTrainIds"
            else ""
        )
        samples = []
        for part in CITYSCAPES_SPLITS[split]:
            samples += find_pairs(
                root / "leftImg8bit" / part,
                root / "gtFine" / part,
                image_suffixes="_leftImg8bit.png",
                label_suffix=f"_gtFine_{label_type}.png",
                what=f"Cityscapes {part}",
                missing_hint=hint,
            )
        self.fine_count = len(samples)
        if coarse:
            samples += find_pairs(
                root / "leftImg8bit" / "train_extra",
                root / "gtCoarse" / "train_extra",
                image_suffixes="_leftImg8bit.png",
                label_suffix=f"_gtCoarse_{label_type}.png",
                what="Cityscapes train_extra (coarse)",
                missing_hint=hint,
            )
        super().__init__(
            samples,
            CITYSCAPES_CLASSES,
            palette=CITYSCAPES_PALETTE,
            label_map=CITYSCAPES_ID_TO_TRAINID if label_type == "labelIds" else None,
            transform=transform,
        )

    @property
    def primary_length(self) -> int:
        return self.fine_count
