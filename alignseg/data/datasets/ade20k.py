"""ADE20K (SceneParsing, ``ADEChallengeData2016``) as 150 train ids: file value 0 'other' is ignored."""

from __future__ import annotations

from pathlib import Path

from alignseg.data.datasets.base import SegmentationDataset, check_choice, find_pairs
from alignseg.data.labels import ADE20K_CLASSES, ADE20K_PALETTE, ADE20K_TO_TRAIN
from alignseg.data.transforms import Transform

ADE20K_SPLITS = {"train": "training", "val": "validation"}


class ADE20K(SegmentationDataset):
    """``images/{training,validation}/ADE_*.jpg`` + ``annotations/<same>/ADE_*.png`` under the root (the
    ``ADEChallengeData2016`` folder); labels 0..150 -> 255, 0..149 (spec datasets.md 8)."""

    splits = ("train", "val")

    def __init__(self, root: str | Path, split: str = "train", *, transform: Transform | None = None):
        check_choice("ADE20K", "split", split, self.splits)
        self.root, self.split = Path(root), split
        folder = ADE20K_SPLITS[split]
        samples = find_pairs(
            self.root / "images" / folder,
            self.root / "annotations" / folder,
            image_suffixes=".jpg",
            label_suffix=".png",
            what=f"ADE20K {split}",
        )
        super().__init__(samples, ADE20K_CLASSES, palette=ADE20K_PALETTE, label_map=ADE20K_TO_TRAIN,
                         transform=transform)
