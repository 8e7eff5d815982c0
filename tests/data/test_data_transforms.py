"""Training and evaluation transforms: crop size, padding, label values, flips, normalisation, centroids."""

import numpy as np
import pytest

from alignseg.data import IMAGENET_MEAN, IMAGENET_STD, eval_transforms, train_transforms

MEAN, STD = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)


def random_pair(height, width, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    label = rng.integers(0, 3, (height, width), dtype=np.uint8)
    return image, label


def test_output_crop_size_and_label_values():
    transform = train_transforms((48, 64), scale_range=(0.5, 2.0), seed=1)
    image, label = random_pair(90, 120)
    label[:5] = 255
    for _ in range(10):
        out_image, out_label = transform(image, label)
        assert out_image.shape == (48, 64, 3) and out_image.dtype == np.float32
        assert out_label.shape == (48, 64) and out_label.dtype == np.uint8
        assert set(np.unique(out_label).tolist()) <= {0, 1, 2, 255}


def test_small_images_are_padded_with_0_and_255():
    transform = train_transforms(64, scale_range=(1.0, 1.0), color_jitter=None, blur_sigma=None, seed=0)
    image, label = random_pair(20, 30)
    out_image, out_label = transform(image, label)
    assert out_image.shape == (64, 64, 3)
    assert np.count_nonzero(out_label != 255) == 20 * 30  # every original pixel kept, the rest is padding
    padded = out_label == 255
    assert np.allclose(out_image[padded], -MEAN / STD, atol=1e-5)  # image padding is 0 before normalising


def test_flip_moves_image_and_label_together():
    image = np.zeros((8, 10, 3), np.uint8)
    image[:, :3] = (255, 0, 0)  # red strip on the left, labelled 1
    image[:, 3:] = (0, 0, 255)  # blue elsewhere, labelled 2
    label = np.full((8, 10), 2, np.uint8)
    label[:, :3] = 1
    flip = train_transforms((8, 10), scale_range=(1.0, 1.0), hflip_p=1.0, color_jitter=None, blur_sigma=None)
    out_image, out_label = flip(image, label)
    assert (out_label[:, -3:] == 1).all() and (out_label[:, :-3] == 2).all()
    red = (np.array([1.0, 0.0, 0.0]) - MEAN) / STD
    assert np.allclose(out_image[out_label == 1], red, atol=1e-5)
    maybe = train_transforms((8, 6), scale_range=(1.0, 1.0), color_jitter=None, blur_sigma=None, seed=3)
    flipped = 0
    for _ in range(16):  # random crops, flipped or not: red pixels always carry label 1
        out_image, out_label = maybe(image, label)
        is_red = out_image[..., 0] > 0
        assert np.array_equal(is_red, out_label == 1) and (out_label[~is_red] == 2).all()
        flipped += bool(is_red[:, -1].all() and not is_red[:, 0].all())
    assert 0 < flipped < 16


def test_eval_normalisation_numbers():
    image = np.zeros((2, 3, 3), np.uint8)
    image[0, 0] = (255, 255, 255)
    image[1, 2] = (124, 116, 104)
    out_image, out_label = eval_transforms()(image, np.zeros((2, 3), np.uint8), (1.0, 1.0))
    assert out_image.shape == (2, 3, 3) and out_label.shape == (2, 3)
    assert out_image[0, 0] == pytest.approx([2.2489, 2.4286, 2.6400], abs=1e-4)
    assert out_image[0, 1] == pytest.approx([-2.1179, -2.0357, -1.8044], abs=1e-4)
    assert out_image[1, 2] == pytest.approx((np.array([124, 116, 104]) / 255 - MEAN) / STD, abs=1e-5)


def test_colour_and_blur_change_pixels_but_not_labels():
    image, label = random_pair(32, 32)
    plain = train_transforms(32, (1.0, 1.0), hflip_p=0.0, color_jitter=None, blur_sigma=None)(image, label)
    jittered = train_transforms(32, (1.0, 1.0), hflip_p=0.0, interpolation="bicubic", seed=5)(image, label)
    assert np.array_equal(plain[1], jittered[1])
    assert not np.allclose(plain[0], jittered[0])
    with pytest.raises(ValueError, match="interpolation"):
        train_transforms(32, interpolation="nearest")


def test_crop_contains_the_centroid_pixel():
    image = np.zeros((300, 400, 3), np.uint8)
    label = np.zeros((300, 400), np.uint8)
    label[248:253, 348:353] = 1  # a 5x5 blob far from the centre, centroid (350, 250)
    for scale in [(1.0, 1.0), (0.5, 2.0)]:
        transform = train_transforms(40, scale_range=scale, color_jitter=None, blur_sigma=None, seed=7)
        for _ in range(20):
            assert (transform(image, label, (350.0, 250.0))[1] == 1).any()


def test_scale_choices_draw_only_the_listed_factors():
    # A 20x30 image padded into a 200x200 crop keeps all its pixels: their count tells the scale drawn.
    transform = train_transforms(200, scale_choices=(0.5, 2.0), color_jitter=None, blur_sigma=None, seed=3)
    image, label = random_pair(20, 30)
    counts = {int(np.count_nonzero(transform(image, label)[1] != 255)) for _ in range(20)}
    assert counts == {10 * 15, 40 * 60}
    with pytest.raises(ValueError, match="scale_choices must be positive"):
        train_transforms(64, scale_choices=(0.0, 1.0))


def padding_case(**options):
    """A 2×4 image of known colours (labels 0..7) padded into a 5×7 crop at scale 1 without colour changes."""
    image = (np.arange(24, dtype=np.uint8).reshape(2, 4, 3) * 10 + 5).astype(np.uint8)
    label = np.arange(8, dtype=np.uint8).reshape(2, 4)
    transform = train_transforms((5, 7), scale_range=(1.0, 1.0), hflip_p=0.0, color_jitter=None, blur_sigma=None,
                                 seed=0, **options)
    return image, label, *transform(image, label)


def test_released_padding_is_black_and_centred():
    image, label, out_image, out_label = padding_case()
    # 3 rows and 3 columns of padding: albumentations puts the odd pixel after the image (top 1, bottom 2)
    assert np.array_equal(out_label[1:3, 1:5], label)
    assert np.allclose(out_image[1:3, 1:5], (image / 255.0 - MEAN) / STD, atol=1e-6)
    padded = np.ones((5, 7), bool)
    padded[1:3, 1:5] = False
    assert (out_label[padded] == 255).all()
    assert np.allclose(out_image[padded], -MEAN / STD, atol=1e-6)


def test_mean_padding_at_the_bottom_right_is_exactly_zero():
    image, label, out_image, out_label = padding_case(pad_value="mean", pad_position="bottom_right")
    assert np.array_equal(out_label[:2, :4], label)
    assert np.allclose(out_image[:2, :4], (image / 255.0 - MEAN) / STD, atol=1e-6)
    assert (out_label[2:] == 255).all() and (out_label[:, 4:] == 255).all()
    assert (out_image[2:] == 0).all() and (out_image[:, 4:] == 0).all()


def test_mean_padding_stays_zero_through_colour_jitter_and_blur_and_zero_padding_does_not():
    image, label = random_pair(20, 30)
    for pad_value in ("mean", "zero"):
        transform = train_transforms(40, scale_range=(1.0, 1.0), pad_value=pad_value, pad_position="center", seed=2)
        out_image, out_label = transform(image, label)
        padded = out_label == 255
        assert padded.sum() == 40 * 40 - 20 * 30
        if pad_value == "mean":
            assert (out_image[padded] == 0).all()
        else:  # released: black padding is jittered and blurred with the image
            assert not np.allclose(out_image[padded], -MEAN / STD, atol=1e-3)


def test_unknown_padding_options_are_refused():
    with pytest.raises(ValueError, match="pad_value must be one of zero, mean"):
        train_transforms(8, pad_value="black")
    with pytest.raises(ValueError, match="pad_position must be one of center, bottom_right"):
        train_transforms(8, pad_position="top")
