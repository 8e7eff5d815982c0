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
    pred = np.array([[0, 1, 2], [1, 1, 0]])
    label = np.array([[0, 2, 255], [1, 255, 2]])
    out = viz.error_map(pred, label)
    black, red, grey = [0, 0, 0], [255, 0, 0], [200, 200, 200]
    assert out.tolist() == [[black, red, grey], [black, grey, red]]  # wrong red, ignored grey, right black
    assert dict(viz.ERROR_MAP_LEGEND) == {"correct": (0, 0, 0), "wrong": (255, 0, 0), "ignored": (200, 200, 200)}


def swatch_colours(picture, palette):
    """The palette colours that fill at least a 4×4 block somewhere in ``picture`` (legend swatches)."""
    found = []
    for color in palette:
        mask = (picture == np.array(color, np.uint8)).all(axis=2).astype(np.int32)
        blocks = mask[:-3, :-3] + mask[1:-2, 1:-2] + mask[2:-1, 2:-1] + mask[3:, 3:]
        if (blocks == 4).any():
            found.append(tuple(color))
    return found


def test_legend_lists_exactly_the_present_classes():
    palette = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (250, 250, 10), (10, 250, 250)]
    names = ["red", "green", "blue", "yellow", "cyan"]
    label = np.full((120, 160), 255, np.uint8)
    label[:40] = 3
    label[40:80, :80] = 1
    image = np.full((120, 160, 3), 60, np.uint8)
    picture = viz.overlay_with_legend(image, label, names, palette, alpha=0.5)
    assert picture.shape[0] == 120 and picture.shape[1] > 160
    legend = picture[:, 160:]
    assert swatch_colours(legend, palette) == [palette[1], palette[3]]
    assert viz.present_classes(label, 5) == [1, 3]
    assert (legend < 40).all(axis=2).sum() > 20  # the names were written (black text)
    # a long legend wraps into columns instead of running off the picture
    tall = viz.draw_legend([f"class {i}" for i in range(5)], palette, font_size=20, max_height=70)
    assert tall.shape[0] <= 70 and swatch_colours(tall, palette) == palette


def test_fonts_grow_with_the_picture():
    small = viz.draw_legend(["sky"], [(0, 0, 255)], font_size=viz.font_size_for(120))
    large = viz.draw_legend(["sky"], [(0, 0, 255)], font_size=viz.font_size_for(1200))
    assert large.shape[0] >= 4 * small.shape[0] and viz.font_size_for(100) >= 11


def test_palette_image_keeps_ids_and_embeds_the_palette():
    label = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    picture = viz.palette_image(label, PALETTE)
    assert picture.mode == "P"
    assert np.array_equal(np.asarray(picture), label)
    table = np.asarray(picture.getpalette()).reshape(-1, 3)
    assert table[:3].tolist() == [list(color) for color in PALETTE] and table[255].tolist() == [0, 0, 0]
    assert np.array_equal(np.asarray(picture.convert("RGB")), viz.colorize(label, PALETTE))


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


@pytest.mark.parametrize("degrees", [0, 45, 90, 135, 180, 225, 270, 315])
def test_flow_wheel_hue_at_known_angles(degrees):
    size = 65
    wheel = viz.flow_wheel(size)
    centre, radius = 32, 30
    x = round(centre + radius * np.cos(np.radians(degrees)))
    y = round(centre + radius * np.sin(np.radians(degrees)))  # y downwards: angles clockwise on screen
    hue, saturation, _ = colorsys.rgb_to_hsv(*(wheel[y, x] / 255.0))
    assert abs((hue * 360 - degrees + 180) % 360 - 180) < 3
    assert saturation > 0.85


def test_flow_picture_has_the_field_the_wheel_and_the_scale():
    flow = np.zeros((2, 9, 12))
    flow[0, :, 6:] = 2.0  # right half moves 2 grid pixels to the right
    picture = viz.flow_picture(flow, size=(90, 120))
    assert picture.shape[0] == 90 and picture.shape[1] > 120
    field = picture[:, :120]
    assert (field[:, :60] == 255).all() and (field[:, 60:] == [255, 0, 0]).all()  # white still, red right
    key = picture[:, 120:]
    assert ((key == [255, 0, 0]).all(axis=2)).any()  # the wheel's rightmost colour
    assert (key < 40).all(axis=2).sum() > 30  # the radius text
    # the key keeps its width whatever the numbers, so video frames keep their size
    assert viz.flow_picture(flow * 50, size=(90, 120)).shape == picture.shape


def test_evaluation_panel_shows_the_error_map_and_one_legend():
    palette = [(250, 10, 10), (10, 250, 10), (10, 10, 250)]
    label = np.zeros((40, 50), np.uint8)
    label[:, 25:] = 1
    label[:5] = 255
    pred = np.zeros((40, 50), np.uint8)  # right half wrong
    image = np.full((40, 50, 3), 77, np.uint8)
    panel = viz.evaluation_panel(image, pred, label, ["a", "b", "c"], palette)
    errors = viz.error_map(pred, label)
    bottom = panel[-40:]
    fourth = bottom[:, 3 * (50 + 4) : 3 * (50 + 4) + 50]
    assert np.array_equal(fourth, errors)
    legend = panel[:, 4 * 50 + 3 * 4 :]
    colours = [*palette, *(color for _, color in viz.ERROR_MAP_LEGEND)]
    assert swatch_colours(legend, colours) == [palette[0], palette[1], *(c for _, c in viz.ERROR_MAP_LEGEND)]
