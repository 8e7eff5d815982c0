"""Label tables: the Cityscapes 34 -> 19 table and its inverse, CamVid names/palette, LabelMap."""

import numpy as np
import pytest
from conftest import shared_path

from alignseg.data import (
    CAMVID_CLASSES,
    CAMVID_PALETTE,
    CAMVID_SEGNET_TO_TRAIN,
    CITYSCAPES_CLASSES,
    CITYSCAPES_ID_TO_TRAINID,
    CITYSCAPES_LABELS,
    CITYSCAPES_PALETTE,
    CITYSCAPES_TRAINID_TO_ID,
    MAPILLARY_TO_CITYSCAPES,
    LabelMap,
    default_palette,
    read_label,
)

# The public Cityscapes definition: labelId -> trainId for the 19 evaluated classes.
EXPECTED_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip


def test_cityscapes_table_maps_the_19_classes_and_ignores_the_rest():
    assert [row.id for row in CITYSCAPES_LABELS] == list(range(34))
    ids = np.arange(34, dtype=np.uint8)
    expected = [EXPECTED_TRAIN_IDS.get(i, 255) for i in range(34)]
    assert CITYSCAPES_ID_TO_TRAINID(ids).tolist() == expected
    assert CITYSCAPES_CLASSES[:3] == ("road", "sidewalk", "building")
    assert CITYSCAPES_CLASSES[-1] == "bicycle" and len(CITYSCAPES_CLASSES) == 19
    assert CITYSCAPES_PALETTE[0] == (128, 64, 128) and CITYSCAPES_PALETTE[13] == (0, 0, 142)
    assert len(set(CITYSCAPES_PALETTE)) == 19


def test_cityscapes_inverse_round_trips():
    train_ids = np.array([*range(19), 255], dtype=np.uint8)
    assert CITYSCAPES_ID_TO_TRAINID(CITYSCAPES_TRAINID_TO_ID(train_ids)).tolist() == train_ids.tolist()
    ids = np.array(sorted(EXPECTED_TRAIN_IDS), dtype=np.uint8)
    assert CITYSCAPES_TRAINID_TO_ID(CITYSCAPES_ID_TO_TRAINID(ids)).tolist() == ids.tolist()
    assert CITYSCAPES_TRAINID_TO_ID(np.array([255], np.uint8)).tolist() == [0]  # ignore -> 'unlabeled'
    assert CITYSCAPES_TRAINID_TO_ID.unknown(np.array([19, 200, 255])).tolist() == [19, 200]


def test_camvid_names_follow_classes_txt():
    names = shared_path("data", "camvid", "classes.txt").read_text().split()
    assert list(CAMVID_CLASSES) == names
    assert len(CAMVID_PALETTE) == 11 and CAMVID_PALETTE[0] == (128, 128, 128)  # SegNet's Sky
    segnet = np.array([0, 5, 10, 11], dtype=np.uint8)
    assert CAMVID_SEGNET_TO_TRAIN(segnet).tolist() == [0, 5, 10, 255]
    assert CAMVID_SEGNET_TO_TRAIN.unknown(np.array([3, 12, 255])).tolist() == [12, 255]


def test_label_map_from_dict_and_errors():
    relabel = LabelMap.from_dict({1: 0, 2: 1}, default=9)
    assert relabel(np.array([[0, 1, 2]], np.uint8)).tolist() == [[9, 0, 1]]
    assert relabel.unknown(np.array([0, 200])).size == 0  # not strict: everything accepted
    with pytest.raises(TypeError, match="uint8"):
        relabel(np.array([1, 2], np.int64))
    with pytest.raises(ValueError, match="8-bit"):
        LabelMap.from_dict({300: 1})


def test_default_palette_is_distinct():
    palette = default_palette(64)
    assert palette[0] == (0, 0, 0) and len(set(palette)) == 64


def test_mapillary_sample_maps_to_cityscapes():
    label = read_label(
        shared_path("data", "samples", "mapillary_vistas", "training", "v1.2", "labels", "__CRyFzoDOXn6unQ6a3DnQ.png")
    )
    assert sorted(np.unique(label).tolist()) == [17, 44, 45]  # palette PNG: indices, not colours
    mapped = MAPILLARY_TO_CITYSCAPES(label)
    assert sorted(np.unique(mapped).tolist()) == [2, 5, 255]  # building, pole, street light (ignored)
