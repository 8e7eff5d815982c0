"""The papers' evaluation pre-processing (eval.resize / resize_size / center_crop / score_at): Mapillary's
height 1536 + centre crop, UDS's exact 1024x2048, mmsegmentation's keep-ratio resize with predictions
resized back to the original label."""

import numpy as np
import pytest
import torch
from dataset_layouts import write_image, write_label

from alignseg.data import ImageFolderDataset, eval_transforms
from alignseg.engine.config import ConfigError, DataConfig, EvalConfig, config_from_dict
from alignseg.engine.data import build_eval_transform, build_val_loader
from alignseg.engine.evaluator import evaluate


def columns(height, width):
    """An image and a label whose column x holds x."""
    label = np.tile(np.arange(width, dtype=np.uint8), (height, 1))
    return np.zeros((height, width, 3), np.uint8), label


def test_landscape_centre_crop_origin_follows_the_released_rounding():
    transform = eval_transforms(resize="height", size=[30], center_crop=30)
    for width in (90, 91, 93):
        image, label = transform(*columns(30, width))
        x0 = round((width - 30) / 2)  # Python 3 rounding, as in SFSegNets' CenterCropPad
        assert image.shape == (30, 30, 3) and label[0].tolist() == list(range(x0, x0 + 30))


def test_portrait_image_is_padded_with_ignore_not_bird():
    _, label = eval_transforms(resize="height", size=[30], center_crop=30)(*columns(30, 20))
    assert label[0].tolist() == [255] * 5 + list(range(20)) + [255] * 5


def test_resize_height_keeps_the_aspect_ratio_like_the_released_code():
    image, label = eval_transforms(resize="height", size=[1536])(*columns(100, 301))
    assert image.shape[:2] == label.shape == (1536, int(301 / 100 * 1536))


def test_exact_and_keep_ratio_sizes():
    image, label = eval_transforms(resize="exact", size=[16, 32])(*columns(7, 5))  # UDS: 1024x2048 for all
    assert image.shape[:2] == label.shape == (16, 32)
    ade = eval_transforms(resize="keep_ratio", size=[512, 2048], resize_label=False)
    for (h, w), expected in {(300, 400): (512, 683), (400, 300): (683, 512), (100, 1800): (114, 2048)}.items():
        image, label = ade(np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.uint8))
        assert image.shape[:2] == expected and label.shape == (h, w)
    pc = eval_transforms(resize="keep_ratio", size=[520, 520])
    assert pc(np.zeros((300, 400, 3), np.uint8), np.zeros((300, 400), np.uint8))[0].shape[:2] == (390, 520)


def test_config_checks_the_protocol_keys():
    with pytest.raises(ConfigError, match=r"eval.resize 'exact' needs eval.resize_size with 2"):
        config_from_dict({"eval": {"resize": "exact"}}, training=False)
    with pytest.raises(ConfigError, match=r"eval\.center_crop cuts the label"):
        config_from_dict({"eval": {"resize": "height", "resize_size": [1536], "center_crop": 1536,
                                   "score_at": "original"}}, training=False)
    config = config_from_dict({"eval": {"resize": "height", "resize_size": [8], "center_crop": [8, 8]}},
                              training=False)
    image, label = build_eval_transform(config.eval, config.data)(*columns(4, 20))  # -> 8x40, then the centre
    assert image.shape == (8, 8, 3) and label[0].tolist() == [8, 8, 9, 9, 10, 10, 11, 11]


class Halves(torch.nn.Module):
    """Class 0 on the left half of the input, class 1 on the right."""

    align_corners = False

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 2, *x.shape[2:])
        logits[:, 0, :, : x.shape[3] // 2] = 1
        logits[:, 1, :, x.shape[3] // 2 :] = 1
        return logits


def test_predictions_are_scored_at_the_original_label_size(tmp_path):
    label = np.zeros((12, 20), np.uint8)
    label[:, 10:] = 1
    write_image(tmp_path / "img" / "a.jpg", 12, 20)
    write_label(tmp_path / "lbl" / "a.png", label)
    config = EvalConfig(resize="keep_ratio", resize_size=[6, 100], score_at="original")
    data = ImageFolderDataset(tmp_path / "img", tmp_path / "lbl", class_names=("left", "right"),
                              transform=build_eval_transform(config, DataConfig()))
    item = data[0]
    assert tuple(item["image"].shape[1:]) == (6, 10) and tuple(item["label"].shape) == (12, 20)
    metrics = evaluate(Halves(), build_val_loader(data, 0), 2, config)
    assert metrics.matrix.tolist() == [[120, 0], [0, 120]]
