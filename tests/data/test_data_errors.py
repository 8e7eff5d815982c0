"""Bad data a user can hand in: each case raises one DataError that names the file or folder."""

import numpy as np
import pytest
from PIL import Image

from alignseg.data import DataError, ImageFolderDataset, build_dataset

CLASSES = ("a", "b", "c")


def write(folder, name, array):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(folder / name)
    return folder / name


@pytest.fixture
def folders(tmp_path):
    images, labels = tmp_path / "img", tmp_path / "lbl"
    for name in ("x", "y"):
        write(images, f"{name}.jpg", np.full((6, 8, 3), 100, np.uint8))
        write(labels, f"{name}.png", np.array([[0, 1, 2, 255] * 2] * 6, np.uint8))
    return images, labels


def dataset(images, labels, **kwargs):
    return ImageFolderDataset(images, labels, class_names=kwargs.pop("class_names", CLASSES), **kwargs)


def test_good_folder_loads(folders):
    data = dataset(*folders)
    assert len(data) == 2 and data[1]["label"].unique().tolist() == [0, 1, 2, 255]
    assert len(data.palette) == 3


def test_image_without_label(folders):
    images, labels = folders
    write(images, "z.jpg", np.zeros((6, 8, 3), np.uint8))
    with pytest.raises(DataError, match=r"image .*img/z\.jpg has no label: expected .*lbl/z\.png"):
        dataset(images, labels)


def test_label_without_image(folders):
    images, labels = folders
    write(labels, "w.png", np.zeros((6, 8), np.uint8))
    with pytest.raises(DataError, match=r"label .*lbl/w\.png has no image"):
        dataset(images, labels)


def test_size_mismatch_names_both_files(folders):
    images, labels = folders
    write(labels, "y.png", np.zeros((8, 6), np.uint8))
    with pytest.raises(DataError, match=r"image .*y\.jpg is 8x6 \(WxH\) but its label .*y\.png is 6x8"):
        dataset(images, labels)[1]


def test_label_values_outside_the_classes(folders):
    images, labels = folders
    write(labels, "x.png", np.tile(np.array([0, 7, 9, 255], np.uint8), (6, 2)))
    with pytest.raises(DataError, match=r"x\.png holds values \[7, 9\] outside the 3 classes 0\.\.2"):
        dataset(images, labels)[0]


def test_sixteen_bit_label_out_of_range(folders):
    images, labels = folders
    Image.fromarray(np.full((6, 8), 24001, np.uint16)).save(labels / "x.png")
    with pytest.raises(DataError, match=r"x\.png holds values 24001\.\.24001; expected 8-bit"):
        dataset(images, labels)[0]


@pytest.mark.parametrize("which", ["img/x.jpg", "lbl/x.png"])
def test_corrupt_file(folders, which):
    images, _ = folders
    (images.parent / which).write_bytes(b"\x89PNG garbage" * 20)
    with pytest.raises(DataError, match=rf"cannot read (image|label) file .*{which}"):
        dataset(*folders)[0]


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "lbl").mkdir()
    with pytest.raises(DataError, match=r"no images ending in \.jpg found in .*img"):
        dataset(tmp_path / "img", tmp_path / "lbl")
    with pytest.raises(DataError, match=r"image folder .*nowhere does not exist"):
        dataset(tmp_path / "nowhere", tmp_path / "lbl")


def test_unknown_dataset_name_lists_the_valid_ones():
    valid = (
        "ade20k, bdd100k, camvid, cityscapes, coco_stuff164k, cocostuff10k, folder, idd, mapillary, "
        "pascal_context, shapes, uds"
    )
    with pytest.raises(DataError, match=rf"unknown dataset 'pascal'; valid names: {valid}"):
        build_dataset("pascal")
    with pytest.raises(DataError, match=r"dataset 'shapes': .*'sizes'.*it takes num_samples=256"):
        build_dataset("shapes", sizes=3)


def test_reduce_zero_label_and_file_ignore_index(folders):
    images, labels = folders
    write(labels, "x.png", np.tile(np.array([0, 1, 3, 4], np.uint8), (6, 2)))
    reduced = dataset(images, labels, class_names=("a", "b", "c", "d"), reduce_zero_label=True)
    assert reduced[0]["label"][0, :4].tolist() == [255, 0, 2, 3]
    custom_ignore = dataset(images, labels, class_names=("a", "b", "c", "d"), ignore_index=4)
    assert custom_ignore[0]["label"][0, :4].tolist() == [0, 1, 3, 255]
