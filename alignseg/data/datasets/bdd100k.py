"""BDD100K semantic segmentation (the 10K images) whose masks already hold the 19 Cityscapes train ids."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alignseg.data.datasets.base import SegmentationDataset, check_choice, find_pairs
from alignseg.data.errors import DataError
from alignseg.data.labels import BDD100K_TO_TRAIN, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from alignseg.data.transforms import Transform

BDD100K_LAYOUTS = {
    # layout: (image folder, label folder, label suffix) relative to the bdd100k/ root, {} = the split
    "current": ("images/10k/{}", "labels/sem_seg/masks/{}", ".png"),
    "legacy": ("seg/images/{}", "seg/labels/{}", "_train_id.png"),  # bdd100k_seg.zip, read by SFSegNets
}


class BDD100K(SegmentationDataset):
    """Root ``bdd100k/`` in either release layout (spec datasets.md 6.1), found automatically:
    ``images/10k/{split}/<name>.jpg`` + ``labels/sem_seg/masks/{split}/<name>.png`` (current), or
    ``seg/images/{split}/<name>.jpg`` + ``seg/labels/{split}/<name>_train_id.png`` (legacy; the ``seg``
    folder itself may also be given as the root). The label values pass through unchanged (0..18, 255)."""

    splits = ("train", "val")

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        layout: Literal["auto", "current", "legacy"] = "auto",
        *,
        transform: Transform | None = None,
    ):
        check_choice("BDD100K", "split", split, self.splits)
        check_choice("BDD100K", "layout", layout, ("auto", *BDD100K_LAYOUTS))
        root = Path(root)
        if (root / "images").is_dir() and (root / "labels" / split).is_dir() and not (root / "images" / "10k").is_dir():
            root = root.parent  # the legacy seg/ folder was given
        if layout == "auto":
            layout = next((name for name, (images, _, _) in BDD100K_LAYOUTS.items()
                           if (root / images.format(split)).is_dir()), None)
            if layout is None:
                raise DataError(f"{root} is not a BDD100K folder: expected images/10k/{split}/ with "
                                f"labels/sem_seg/masks/{split}/, or seg/images/{split}/ with seg/labels/{split}/")
        self.root, self.split, self.layout = root, split, layout
        images, labels, suffix = BDD100K_LAYOUTS[layout]
        samples = find_pairs(
            root / images.format(split),
            root / labels.format(split),
            image_suffixes=".jpg",
            label_suffix=suffix,
            what=f"BDD100K {split} ({layout} layout)",
        )
        super().__init__(samples, CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE, label_map=BDD100K_TO_TRAIN,
                         transform=transform)
