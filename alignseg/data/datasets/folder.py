"""A generic dataset of image and label folders with matching file names (ADE20K, Pascal Context, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alignseg.data.datasets.base import SegmentationDataset, find_pairs
from alignseg.data.labels import IGNORE_INDEX, Color, LabelMap
from alignseg.data.transforms import Transform


class ImageFolderDataset(SegmentationDataset):
    """``image_dir/<name><image_suffix>`` paired with ``label_dir/<name><label_suffix>`` (sub-folders too).

    ``ignore_index`` is the value that means 'not labelled' in the files (it becomes 255);
    ``reduce_zero_label`` maps 0 -> 255 and v -> v-1, for label sets such as ADE20K where 0 is 'other'.
    """

    def __init__(
        self,
        image_dir: str | Path,
        label_dir: str | Path,
        *,
        class_names: Sequence[str],
        image_suffix: str = ".jpg",
        label_suffix: str = ".png",
        palette: Sequence[Color] | None = None,
        ignore_index: int = IGNORE_INDEX,
        reduce_zero_label: bool = False,
        transform: Transform | None = None,
    ):
        samples = find_pairs(
            Path(image_dir),
            Path(label_dir),
            image_suffixes=image_suffix,
            label_suffix=label_suffix,
            what="dataset",
        )
        super().__init__(
            samples,
            class_names,
            palette=palette,
            label_map=folder_label_map(ignore_index, reduce_zero_label),
            transform=transform,
        )


def folder_label_map(ignore_index: int, reduce_zero_label: bool) -> LabelMap | None:
    """The lookup table for the file ignore value and the zero reduction; None when it is the identity."""
    if ignore_index == IGNORE_INDEX and not reduce_zero_label:
        return None
    if not 0 <= ignore_index <= 255:
        raise ValueError(f"ignore_index must be an 8-bit value, got {ignore_index}")
    lut = np.arange(256, dtype=np.uint8)
    if reduce_zero_label:
        lut = np.concatenate([[IGNORE_INDEX], np.arange(255)]).astype(np.uint8)
        lut[255] = IGNORE_INDEX
    lut[ignore_index] = IGNORE_INDEX
    return LabelMap(lut, name="folder label table")
