"""alignseg.viz on hand-made arrays: exact colours, blends, error maps, panels and the flow colour wheel."""

import colorsys

import numpy as np
import pytest
import torch

from alignseg import viz

PALETTE = [(10, 20, 30), (200, 100, 0), (0, 0, 255)]


def test_colorize_exact_colours_and_ignore():
    label = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    out = viz.colorize(label, PALETTE, ignore_color=(7, 8, 9))
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out.tolist() == [[[10, 20, 30], [200, 100, 0]], [[0, 0, 255], [7, 8, 9]]]


def test_colorize_accepts_int64_and_refuses_values_without_colour():
    assert viz.colorize(np.array([[2, 0]], dtype=np.int64), PALETTE).tolist() == [[[0, 0, 255], [10, 20, 30]]]
    with pytest.raises(ValueError, match=r"\[3, 7\] have no colour in a palette of 3"):
        viz.colorize(np.array([[3, 7, 0]]), PALETTE)
    with pytest.raises(ValueError, match="H×W integer"):
        viz.colorize(np.zeros((2, 2, 3), np.uint8), PALETTE)


def test_overlay_blends_and_keeps_ignored_pixels():
    image = np.full((1, 3, 3), 100, dtype=np.uint8)
    label = np.array([[0, 1, 255]], dtype=np.uint8)
    out = viz.overlay(image, label, PALETTE, alpha=0.5)
    # (100 + 10) / 2 = 55, (100 + 20) / 2 = 60, (100 + 30) / 2 = 65; (100 + 200) / 2 = 150 ...
    assert out.tolist() == [[[55, 60, 65], [150, 100, 50], [100, 100, 100]]]
    assert viz.overlay(image, label, PALETTE, alpha=0.0).tolist() == image.tolist()
    assert viz.overlay(image, label, PALETTE, alpha=1.0)[0, 1].tolist() == [200, 100, 0]


def test_overlay_checks_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        viz.overlay(np.zeros((2, 3, 3), np.uint8), np.zeros((3, 2), np.uint8), PALETTE)


def test_error_map_colours():
    pred = np.array([[0, 1, 2]])
    label = np.array([[0, 2, 255]])
    out = viz.error_map(pred, label)
    assert out.tolist() == [[list(viz.CORRECT_COLOR), list(viz.WRONG_COLOR), list(viz.IGNORED_COLOR)]]
    assert viz.CORRECT_COLOR == (0, 255, 0) and viz.WRONG_COLOR == (255, 0, 0)


def test_side_by_side_pads_and_captions():
    a = np.full((2, 3, 3), 10, np.uint8)
    b = np.full((3, 2), 200, np.uint8)  # grey
    panel = viz.side_by_side(a, b, gap=4)
    assert panel.shape == (3, 3 + 4 + 2, 3)
    assert panel[2, 0].tolist() == [255, 255, 255]  # below the shorter image: background
    assert panel[0, 3].tolist() == [255, 255, 255]  # the gap
    assert panel[2, 7].tolist() == [200, 200, 200]
    captioned = viz.side_by_side(a, b, labels=["image", "pred"], gap=4)
    assert captioned.shape[1] == panel.shape[1] and captioned.shape[0] > panel.shape[0]
    caption_rows = captioned[: captioned.shape[0] - 3]
    assert (caption_rows < 128).any()  # some text was drawn
    assert (captioned[-3:] == panel).all()
    with pytest.raises(ValueError, match="2 captions for 1 images"):
        viz.side_by_side(a, labels=["x", "y"])


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ((1.0, 0.0), (255, 0, 0)),  # right: hue 0° red
        ((0.0, 1.0), (128, 255, 0)),  # down (image y grows downwards): hue 90°
        ((-1.0, 0.0), (0, 255, 255)),  # left: hue 180° cyan
        ((0.0, -1.0), (128, 0, 255)),  # up: hue 270° violet
    ],
)
def test_flow_direction_sets_hue(direction, expected):
    flow = np.zeros((2, 1, 2))
    flow[:, 0, 0] = direction  # second pixel stays zero
    colors = viz.flow_to_color(flow)
    assert colors.dtype == np.uint8 and colors.shape == (1, 2, 3)
    assert tuple(colors[0, 0]) == expected
    assert tuple(colors[0, 1]) == (255, 255, 255)  # zero flow is white


def test_flow_magnitude_sets_saturation():
    flow = np.array([[[1.0, 3.0]], [[0.0, 0.0]]])  # two rightward displacements
    assert viz.flow_to_color(flow, max_magnitude=2.0).tolist() == [[[255, 128, 128], [255, 0, 0]]]  # clipped
    assert viz.flow_to_color(flow)[0, 0].tolist() == [255, 170, 170]  # default max = 3 -> saturation 1/3
    assert (viz.flow_to_color(np.zeros((2, 4, 5))) == 255).all()


def test_flow_accepts_tensors_and_checks_shape():
    flow = torch.tensor([[[[0.0, 2.0]], [[0.0, 0.0]]]])  # 1×2×1×2 tensor
    assert viz.flow_to_color(flow).tolist() == [[[255, 255, 255], [255, 0, 0]]]
    with pytest.raises(ValueError, match="2×H×W"):
        viz.flow_to_color(np.zeros((3, 4, 4)))


def test_hsv_to_rgb_matches_colorsys():
    rng = np.random.default_rng(0)
    hsv = rng.random((50, 3))
    ours = viz.hsv_to_rgb(hsv[:, 0], hsv[:, 1], hsv[:, 2])
    reference = np.array([colorsys.hsv_to_rgb(*row) for row in hsv])
    np.testing.assert_allclose(ours, reference, atol=1e-12)


def test_flow_wheel_key():
    wheel = viz.flow_wheel(33)
    assert wheel.shape == (33, 33, 3)
    assert wheel[16, 16].tolist() == [255, 255, 255]  # centre: no displacement
    assert wheel[16, 32].tolist() == [255, 0, 0]  # right edge: full rightward displacement
    assert wheel[0, 0].tolist() == [255, 255, 255]  # outside the disc
