"""Pascal Context (VOC2010) as 60 or 59 train ids, in mmsegmentation's or the CAR/HFGD author's layout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alignseg.data.datasets.base import SegmentationDataset, check_choice, listed_pairs, read_name_list
from alignseg.data.labels import (
    ADE20K_PALETTE,
    PASCAL_CONTEXT_59_CLASSES,
    PASCAL_CONTEXT_59_TO_TRAIN,
    PASCAL_CONTEXT_60_CLASSES,
    PASCAL_CONTEXT_60_TO_TRAIN,
)
from alignseg.data.transforms import Transform

PASCAL_CONTEXT_LAYOUTS = {
    # layout: (image folder, label folder, split-list folder), relative to the root
    "mmseg": ("JPEGImages", "SegmentationClassContext", "ImageSets/SegmentationContext"),
    "car": ("images", "labels", "."),
}


class PascalContext(SegmentationDataset):
    """PNG values 0..59 (0 = background) as written by mmsegmentation's converter (spec datasets.md 9).

    ``classes`` must be chosen: 60 keeps background as class 0 (SFNet ECCV Table 5a), 59 ignores it and
    shifts 1..59 to 0..58 (HFGD; mmseg ``PascalContextDataset59``; the CAR code's ``label != 0`` then -1).
    ``layout``: ``mmseg`` (root = ``VOCdevkit/VOC2010``: ``JPEGImages/``, ``SegmentationClassContext/``,
    ``ImageSets/SegmentationContext/{train,val}.txt``) or ``car`` (``images/``, ``labels/``, ``{train,val}.txt``).
    """

    splits = ("train", "val")

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        classes: Literal[59, 60],
        layout: Literal["mmseg", "car"] = "mmseg",
        transform: Transform | None = None,
    ):
        check_choice("Pascal Context", "split", split, self.splits)
        check_choice("Pascal Context", "classes", classes, (59, 60))
        check_choice("Pascal Context", "layout", layout, tuple(PASCAL_CONTEXT_LAYOUTS))
        self.root, self.split, self.layout = Path(root), split, layout
        images, labels, lists = PASCAL_CONTEXT_LAYOUTS[layout]
        list_path = self.root / lists / f"{split}.txt"
        samples = listed_pairs(
            read_name_list(list_path, f"Pascal Context ({layout} layout)"),
            self.root / images,
            self.root / labels,
            image_suffix=".jpg",
            label_suffix=".png",
            what=f"Pascal Context {split}",
            listed_in=list_path,
        )
        if classes == 60:
            names, palette, table = PASCAL_CONTEXT_60_CLASSES, ADE20K_PALETTE[:60], PASCAL_CONTEXT_60_TO_TRAIN
        else:
            names, palette, table = PASCAL_CONTEXT_59_CLASSES, ADE20K_PALETTE[1:60], PASCAL_CONTEXT_59_TO_TRAIN
        super().__init__(samples, names, palette=palette, label_map=table, transform=transform)
