"""Image and label reading: modes, and one clear error naming the file for anything unreadable."""

import numpy as np
import pytest
from conftest import shared_path
from PIL import Image

from alignseg.data import DataError, read_image, read_label


def test_read_image_and_label_of_real_files():
    image = read_image(shared_path("data", "camvid", "images", "train", "0001TP_006690.jpg"))
    assert image.shape == (360, 480, 3) and image.dtype == np.uint8
    label = read_label(shared_path("data", "camvid", "labels", "train", "0001TP_006690.png"))
    assert label.shape == (360, 480) and label.dtype == np.uint8


def test_grey_and_rgba_images_become_rgb(tmp_path):
    Image.fromarray(np.full((4, 5), 7, np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.full((4, 5, 4), 9, np.uint8), "RGBA").save(tmp_path / "rgba.png")
    assert read_image(tmp_path / "grey.png").shape == (4, 5, 3)
    assert read_image(tmp_path / "rgba.png")[0, 0].tolist() == [9, 9, 9]


def test_colour_label_is_refused(tmp_path):
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / "colour.png")
    with pytest.raises(DataError, match=r"colour.png is a RGB image; expected a single-channel"):
        read_label(tmp_path / "colour.png")


@pytest.mark.parametrize("reader", [read_image, read_label])
def test_garbage_truncated_and_missing_files_name_the_file(tmp_path, reader):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a png at all" * 10)
    with pytest.raises(DataError, match=r"cannot read .*garbage\.png"):
        reader(garbage)
    real = shared_path("data", "camvid", "labels", "train", "0001TP_006690.png").read_bytes()
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(real[: len(real) // 2])
    with pytest.raises(DataError, match=r"cannot read .*truncated\.png"):
        reader(truncated)
    with pytest.raises(DataError, match=r"missing\.png does not exist"):
        reader(tmp_path / "missing.png")
