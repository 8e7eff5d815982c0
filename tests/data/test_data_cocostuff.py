"""COCO-Stuff-10K: the release layout with real MATLAB v5 label files and real CamVid JPEGs as images."""

import numpy as np
import pytest
from conftest import COCO_STUFF_NAMES, coco_stuff_label, make_coco_stuff_release
from PIL import Image
from scipy.io import savemat

from alignseg.data import COCO_STUFF_CLASSES, CocoStuff10k, DataError, build_dataset

NAMES = COCO_STUFF_NAMES
EXPECTED_TRAIN_IDS = (255, 0, 11, 79, 80, 170)


@pytest.fixture
def release_root(tmp_path):
    return make_coco_stuff_release(tmp_path)


def test_class_table_follows_coco_stuff_ids():
    assert len(COCO_STUFF_CLASSES) == 171
    assert COCO_STUFF_CLASSES[:3] == ("person", "bicycle", "car") and COCO_STUFF_CLASSES[11] == "stop sign"
    assert COCO_STUFF_CLASSES[79:81] == ("toothbrush", "banner") and COCO_STUFF_CLASSES[-1] == "wood"


def test_mat_labels_map_to_train_ids(release_root):
    dataset = build_dataset("cocostuff10k", root=release_root, split="train")
    assert len(dataset) == 2 and dataset.num_classes == 171
    image, label = dataset.load(0)
    assert image.shape == (360, 480, 3) and label.dtype == np.uint8
    bands = [int(label[0, k * 480 // 6]) for k in range(6)]
    assert bands == list(EXPECTED_TRAIN_IDS)
    item = dataset[1]
    assert item["label"].shape == (360, 480) and item["path"].endswith(f"{NAMES[1]}.jpg")


def test_test_split_and_val_alias_read_the_test_list(release_root):
    for split in ("test", "val"):
        dataset = CocoStuff10k(release_root, split)
        assert [p.name for p, _ in dataset.samples] == [f"{NAMES[2]}.jpg"]


def test_stuffthingmaps_png_gives_the_same_train_ids(release_root):
    for name in NAMES:
        png = coco_stuff_label(360, 480).astype(np.int32) - 1
        png[png < 0] = 255
        Image.fromarray(png.astype(np.uint8)).save(release_root / "annotations" / f"{name}.png")
    from_mat = CocoStuff10k(release_root, "train").load(0)[1]
    from_png = CocoStuff10k(release_root, "train", label_type="stuffthingmaps").load(0)[1]
    np.testing.assert_array_equal(from_mat, from_png)


def test_unused_coco_id_is_an_error_naming_the_file(release_root):
    bad = coco_stuff_label(360, 480)
    bad[0, 0] = 12  # "street sign": one of the 11 ids COCO never annotated
    savemat(release_root / "annotations" / f"{NAMES[0]}.mat", {"S": bad})
    with pytest.raises(DataError, match=rf"{NAMES[0]}\.mat holds values \[12\]"):
        CocoStuff10k(release_root, "train").load(0)


def test_mat_without_label_matrix_is_an_error(release_root):
    savemat(release_root / "annotations" / f"{NAMES[0]}.mat", {"labels": coco_stuff_label(4, 4)})
    with pytest.raises(DataError, match=r"has no variable 'S'"):
        CocoStuff10k(release_root, "train").load(0)


def test_truncated_mat_is_an_error(release_root):
    path = release_root / "annotations" / f"{NAMES[0]}.mat"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=rf"cannot read label file .*{NAMES[0]}\.mat"):
        CocoStuff10k(release_root, "train").load(0)


def test_listed_file_missing_is_an_error(release_root):
    (release_root / "annotations" / f"{NAMES[1]}.mat").unlink()
    with pytest.raises(DataError, match=rf"label .*{NAMES[1]}\.mat listed in .*imageLists/train\.txt does not exist"):
        CocoStuff10k(release_root, "train")


def test_missing_image_list_names_the_layout(tmp_path):
    with pytest.raises(DataError, match=r"imageLists/train\.txt does not exist.*release layout"):
        CocoStuff10k(tmp_path, "train")
