"""ADE20K and Pascal Context: real ADE20K validation files, synthetic training/PC files in the official layouts,
and every raw value's train id against the spec's tables (datasets.md 8.2, 9.2)."""

import numpy as np
import pytest
from conftest import shared_path
from dataset_layouts import make_ade20k, make_pascal_context, row_label, write_label

from alignseg.data import ADE20K, DataError, PascalContext, build_dataset

# spec 8.2: 0 'other objects' -> ignore, k -> k - 1 (written out, not derived from the implementation)
ADE_EXPECTED = {0: 255, **{k: k - 1 for k in range(1, 151)}}


def test_real_ade20k_validation_samples():
    root = shared_path("data", "samples", "ade20k", "ADEChallengeData2016")
    data = build_dataset("ade20k", root=root, split="val")
    assert len(data) == 3 and data.num_classes == 150 and len(data.palette) == 150
    assert data.class_names[0] == "wall" and data.class_names[149] == "flag" and data.class_names[7] == "bed"
    item = data[2]
    assert item["path"].endswith("ADE_val_00000003.jpg") and tuple(item["label"].shape) == (300, 400)
    assert set(item["label"].unique().tolist()) == {0, 1, 2, 4, 6, 11, 20, 43, 80, 87, 96, 102, 255}


def test_ade20k_maps_every_raw_value(tmp_path):
    root = make_ade20k(tmp_path / "ADEChallengeData2016", list(ADE_EXPECTED))
    label = ADE20K(root, "train")[0]["label"][0].tolist()
    assert label == list(ADE_EXPECTED.values())


def test_ade20k_refuses_151_and_names_the_file(tmp_path):
    root = make_ade20k(tmp_path / "ADE", [0, 1, 150])
    write_label(root / "annotations" / "training" / "ADE_train_00000002.png", row_label([1, 151, 1]))
    with pytest.raises(DataError, match=r"ADE_train_00000002\.png holds values \[151\]"):
        ADE20K(root, "train").load(1)


# spec 9.2 table: PC-60 train id = PNG value; PC-59: 0 -> ignore, k -> k - 1
PC_NAMES_AT = {0: "background", 1: "aeroplane", 14: "car", 37: "person", 47: "sky", 59: "wood"}


@pytest.mark.parametrize("layout", ["mmseg", "car"])
def test_pascal_context_60_and_59(tmp_path, layout):
    root = make_pascal_context(tmp_path / "VOC2010", list(range(60)), layout)
    pc60 = PascalContext(root, "train", classes=60, layout=layout)
    pc59 = build_dataset("pascal_context", root=root, split="val", classes=59, layout=layout)
    assert (len(pc60), len(pc59)) == (2, 2) and pc59.samples[0][0].name == "2008_000002.jpg"
    assert pc60[0]["label"][0].tolist() == list(range(60))
    assert pc59[0]["label"][0].tolist() == [255, *range(59)]
    for value, name in PC_NAMES_AT.items():
        assert pc60.class_names[value] == name
        if value:
            assert pc59.class_names[value - 1] == name
    assert (pc60.num_classes, pc59.num_classes) == (60, 59)


def test_pascal_context_needs_an_explicit_class_count(tmp_path):
    root = make_pascal_context(tmp_path / "VOC2010", [0, 1])
    with pytest.raises(DataError, match="classes"):
        build_dataset("pascal_context", root=root, split="train")
    with pytest.raises(DataError, match=r"unknown classes 58"):
        PascalContext(root, "train", classes=58)


def test_pascal_context_errors_name_the_file(tmp_path):
    root = make_pascal_context(tmp_path / "VOC2010", [0, 59])
    labels = root / "SegmentationClassContext"
    write_label(labels / "2008_000015.png", row_label([0, 60]))
    with pytest.raises(DataError, match=r"2008_000015\.png holds values \[60\]"):
        PascalContext(root, "train", classes=60).load(1)
    (labels / "2008_000008.png").unlink()
    with pytest.raises(DataError, match=r"label .*2008_000008\.png listed in .*train\.txt does not exist"):
        PascalContext(root, "train", classes=59)
    write_label(labels / "2008_000008.png", np.zeros((3, 2), np.uint8))
    with pytest.raises(DataError, match=r"image .*2008_000008\.jpg is 2x2 \(WxH\) but its label .* is 2x3"):
        PascalContext(root, "train", classes=59).load(0)
