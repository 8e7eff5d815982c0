"""COCO-Stuff-10K in its release layout (image lists + ``.mat`` labels), as 171 train ids."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alignseg.data.datasets.base import SegmentationDataset
from alignseg.data.errors import DataError
from alignseg.data.labels import COCO_STUFF_CLASSES, COCO_STUFF_MAT_TO_TRAIN, COCO_STUFF_PNG_TO_TRAIN, LabelMap
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
        samples = []
        for name in read_image_list(root / "imageLists" / f"{COCO_STUFF_10K_SPLITS[split]}.txt"):
            image, label = root / "images" / f"{name}.jpg", root / "annotations" / f"{name}{suffix}"
            for path, kind in ((image, "image"), (label, "label")):
                if not path.is_file():
                    raise DataError(f"COCO-Stuff-10K {split}: {kind} {path} listed in imageLists does not exist")
            samples.append((image, label))
        super().__init__(samples, COCO_STUFF_CLASSES, label_map=label_map, transform=transform)


def read_image_list(path: Path) -> list[str]:
    """Image names of one split, one per line (extensions, blank lines and surrounding spaces ignored)."""
    if not path.is_file():
        raise DataError(
            f"COCO-Stuff-10K: image list {path} does not exist; expected the release layout "
            "images/, annotations/ and imageLists/{train,test}.txt under the root"
        )
    names = [Path(line.strip()).stem for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DataError(f"COCO-Stuff-10K: image list {path} is empty")
    return names
