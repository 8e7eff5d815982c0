"""COCO-Stuff-164K in mmsegmentation's layout: every raw stuffthingmaps value against spec datasets.md 10.2."""

import pytest
from dataset_layouts import make_coco_stuff164k, row_label, write_label

from alignseg.data import COCO_STUFF_CLASSES, COCO_STUFF_PALETTE, CocoStuff164k, DataError, build_dataset

# spec 10.2: the 171 used raw values in train-id order (train id = rank), 255 -> 255
USED_RAW = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    21, 22, 23, 24, 26, 27, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64,
    66, 69, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 83, 84, 85, 86, 87, 88, 89,
    *range(91, 182),
]  # fmt: skip
UNUSED_RAW = [11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90]


def test_every_raw_value_and_the_train_id_twins_agree(tmp_path):
    assert len(USED_RAW) == 171 and not set(USED_RAW) & set(UNUSED_RAW)
    raw = [*USED_RAW, 255]
    expected = [*range(171), 255]
    root = make_coco_stuff164k(tmp_path / "coco_stuff164k", raw, train_ids=expected)
    stuff = build_dataset("coco_stuff164k", root=root, split="train")
    twins = CocoStuff164k(root, "val", label_type="labelTrainIds")
    assert len(stuff) == 2 and len(twins) == 2 and stuff.samples[0][1].name == "000000000009.png"
    assert stuff[0]["label"][0].tolist() == expected
    assert twins[1]["label"][0].tolist() == CocoStuff164k(root, "val")[1]["label"][0].tolist()
    assert stuff.class_names == COCO_STUFF_CLASSES and stuff.palette == COCO_STUFF_PALETTE
    assert stuff.class_names[80] == "banner" and stuff.palette[0] == (0, 192, 64)


def test_fixture_values_of_the_spec(tmp_path):
    root = make_coco_stuff164k(tmp_path / "c", [0, 10, 12, 91, 181, 255])
    assert CocoStuff164k(root, "val")[0]["label"][0].tolist() == [0, 10, 11, 80, 170, 255]


@pytest.mark.parametrize("value", UNUSED_RAW)
def test_unused_raw_values_are_refused_naming_the_file(tmp_path, value):
    root = make_coco_stuff164k(tmp_path / "c", [0, 1])
    write_label(root / "annotations" / "train2017" / "000000000025.png", row_label([0, value]))
    with pytest.raises(DataError, match=rf"000000000025\.png holds values \[{value}\]"):
        CocoStuff164k(root, "train").load(1)


def test_missing_label_names_the_expected_file(tmp_path):
    root = make_coco_stuff164k(tmp_path / "c", [0, 1])
    (root / "annotations" / "val2017" / "000000000139.png").unlink()
    with pytest.raises(DataError, match=r"000000000139\.jpg has no label: expected .*val2017/000000000139\.png"):
        CocoStuff164k(root, "val")
