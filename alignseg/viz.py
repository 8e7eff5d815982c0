"""Pictures of segmentations: colour-coded label maps, overlays, error maps, panels and semantic flows.

Everything here takes and returns numpy arrays (images ``H×W×3`` RGB ``uint8``, label maps ``H×W``
integers) and needs only numpy and Pillow, so it can be used without the rest of the library.

Semantic-flow colour convention (``flow_to_color``): image axes, x to the right and y downwards. The hue
is the direction of the displacement, measured clockwise on screen from +x: right = red (0°),
down = yellow-green (90°), left = cyan (180°), up = violet (270°). The saturation is the length of the
displacement divided by ``max_magnitude`` (clipped to 1) and the value is always 1, so zero flow is white
and the longest displacement is a fully saturated colour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "CORRECT_COLOR",
    "ERROR_MAP_LEGEND",
    "IGNORED_COLOR",
    "WRONG_COLOR",
    "colorize",
    "draw_legend",
    "error_map",
    "evaluation_panel",
    "flow_picture",
    "flow_to_color",
    "flow_wheel",
    "font_size_for",
    "hsv_to_rgb",
    "legend_font",
    "overlay",
    "overlay_with_legend",
    "palette_image",
    "present_classes",
    "side_by_side",
    "with_legend",
]

Color = tuple[int, int, int]

CORRECT_COLOR: Color = (0, 0, 0)
WRONG_COLOR: Color = (255, 0, 0)
IGNORED_COLOR: Color = (200, 200, 200)  # light: CamVid's sky is mid grey
ERROR_MAP_LEGEND: tuple[tuple[str, Color], ...] = (
    ("correct", CORRECT_COLOR),
    ("wrong", WRONG_COLOR),
    ("ignored", IGNORED_COLOR),
)
"""The names and colours of ``error_map``, in the form ``draw_legend`` takes."""


def _palette_array(palette: Sequence[Sequence[int]]) -> np.ndarray:
    colors = np.asarray(palette, dtype=np.int64)
    if colors.ndim != 2 or colors.shape[1] != 3 or len(colors) == 0:
        raise ValueError(f"a palette is a non-empty list of (r, g, b) colours, got shape {colors.shape}")
    if colors.min() < 0 or colors.max() > 255:
        raise ValueError("palette colours must be in 0..255")
    return colors.astype(np.uint8)


def _label_array(label: Any, name: str = "label") -> np.ndarray:
    label = np.asarray(label)
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f"{name} must be an H×W integer array, got {label.dtype} {label.shape}")
    return label


def _rgb_array(image: Any, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{name} must be an H×W×3 (or H×W) uint8 array, got {image.dtype} {image.shape}")
    return image


def colorize(
    label: Any,
    palette: Sequence[Sequence[int]],
    ignore_index: int | None = 255,
    ignore_color: Color = (0, 0, 0),
) -> np.ndarray:
    """Colour a label map: class ``c`` gets ``palette[c]``, ``ignore_index`` gets ``ignore_color``.

    Any other value (negative, or without a colour) is an error naming the first such values.
    """
    label = _label_array(label)
    colors = _palette_array(palette)
    num_colors = len(colors)
    valid = (label >= 0) & (label < num_colors)
    if ignore_index is not None:
        valid |= label == ignore_index
    if not valid.all():
        bad = np.unique(label[~valid])[:5].tolist()
        raise ValueError(f"label values {bad} have no colour in a palette of {num_colors} classes")
    table_size = max(num_colors, (ignore_index + 1) if ignore_index is not None and ignore_index >= 0 else 0)
    table = np.zeros((table_size, 3), dtype=np.uint8)
    table[:num_colors] = colors
    if ignore_index is not None and ignore_index >= 0:
        table[ignore_index] = ignore_color
    return table[label]


_BLEND_ROWS = 256
"""Rows blended at a time by ``overlay``."""


def overlay(
    image: Any,
    label: Any,
    palette: Sequence[Sequence[int]],
    alpha: float = 0.5,
    ignore_index: int | None = 255,
) -> np.ndarray:
    """Blend the colour-coded ``label`` over ``image``: ``(1 - alpha)·image + alpha·colour``, rounded.

    Ignored pixels show the image unchanged.
    """
    image = _rgb_array(image)
    label = _label_array(label)
    if image.shape[:2] != label.shape:
        raise ValueError(f"image {image.shape[:2]} and label {label.shape} differ in size")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    blended = np.empty_like(image)
    for top in range(0, label.shape[0], _BLEND_ROWS):  # float temporaries of a band, not the image (48 Mpx)
        rows = slice(top, top + _BLEND_ROWS)
        colors = colorize(label[rows], palette, ignore_index=ignore_index).astype(np.float32)
        blended[rows] = np.rint((1.0 - alpha) * image[rows].astype(np.float32) + alpha * colors).astype(np.uint8)
    if ignore_index is not None:
        ignored = label == ignore_index
        blended[ignored] = image[ignored]
    return blended


def error_map(
    pred: Any,
    label: Any,
    ignore_index: int | None = 255,
    *,
    correct_color: Color = CORRECT_COLOR,
    wrong_color: Color = WRONG_COLOR,
    ignored_color: Color = IGNORED_COLOR,
) -> np.ndarray:
    """RGB map of where a prediction is right (black), wrong (red) or not scored (grey: label = ignore)."""
    pred = _label_array(pred, "pred")
    label = _label_array(label, "label")
    if pred.shape != label.shape:
        raise ValueError(f"pred {pred.shape} and label {label.shape} differ in size")
    out = np.empty((*label.shape, 3), dtype=np.uint8)
    out[...] = wrong_color
    out[pred == label] = correct_color
    if ignore_index is not None:
        out[label == ignore_index] = ignored_color
    return out


def font_size_for(height: int) -> int:
    """A caption/legend font size readable on a picture ``height`` pixels tall (at least 11 px)."""
    return max(11, round(height / 24))


def legend_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` pixels (Pillow >= 10.1); older Pillow gives its fixed bitmap font."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        return ImageFont.load_default()


def present_classes(label: Any, num_classes: int, ignore_index: int | None = 255) -> list[int]:
    """The class ids that occur in ``label``, ascending (``ignore_index`` and values >= ``num_classes`` left out)."""
    values = np.unique(_label_array(label))
    return [int(v) for v in values if 0 <= v < num_classes and v != ignore_index]


def draw_legend(
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    classes: Sequence[int] | None = None,
    *,
    font_size: int = 16,
    max_height: int | None = None,
    background: Color = (255, 255, 255),
) -> np.ndarray:
    """A legend picture: one row per class in ``classes`` (default: all), a colour swatch and its name.

    Rows run top to bottom and wrap into further columns when ``max_height`` pixels are filled.
    Swatches have a thin grey border so that white or black classes stay visible on any background.
    """
    colors = _palette_array(palette)
    if len(class_names) != len(colors):
        raise ValueError(f"{len(class_names)} class names for {len(colors)} palette colours")
    chosen = list(range(len(colors))) if classes is None else [int(c) for c in classes]
    if any(not 0 <= c < len(colors) for c in chosen):
        raise ValueError(f"legend classes {chosen} outside 0..{len(colors) - 1}")
    font = legend_font(font_size)
    pad = max(2, font_size // 3)
    row = font_size + 2 * pad
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = max([probe.textlength(class_names[c], font=font) for c in chosen] or [0.0])
    column_width = int(pad + font_size + pad + math.ceil(text_width) + 3 * pad)  # a clear margin after the longest name
    per_column = max(1, (max_height - pad) // row) if max_height else max(1, len(chosen))
    columns = max(1, -(-len(chosen) // per_column))
    rows = min(len(chosen), per_column) if chosen else 0
    picture = Image.new("RGB", (columns * column_width, max(rows * row + pad, 1)), background)
    draw = ImageDraw.Draw(picture)
    for i, c in enumerate(chosen):
        left, top = (i // per_column) * column_width + pad, (i % per_column) * row + pad
        swatch = (left, top + pad // 2, left + font_size, top + pad // 2 + font_size)
        draw.rectangle(swatch, fill=tuple(int(v) for v in colors[c]), outline=(96, 96, 96))
        draw.text((left + font_size + pad, top + pad // 2 + font_size / 2), class_names[c], fill=(0, 0, 0),
                  font=font, anchor="lm")
    return np.asarray(picture).copy()


def with_legend(picture: Any, legend: Any, background: Color = (255, 255, 255)) -> np.ndarray:
    """``picture`` with ``legend`` to its right, both top-aligned on ``background``."""
    return side_by_side(picture, legend, gap=0, background=background)


def overlay_with_legend(
    image: Any,
    label: Any,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    alpha: float = 0.5,
    ignore_index: int | None = 255,
) -> np.ndarray:
    """``overlay`` with a legend of the classes present in ``label``, sized to the picture's height."""
    blended = overlay(image, label, palette, alpha=alpha, ignore_index=ignore_index)
    height = blended.shape[0]
    legend = draw_legend(class_names, palette, present_classes(label, len(palette), ignore_index),
                         font_size=font_size_for(height), max_height=height)
    return with_legend(blended, legend)


def palette_image(label: Any, palette: Sequence[Sequence[int]], ignore_color: Color = (0, 0, 0)) -> Image.Image:
    """A P-mode (palette) Pillow image whose pixel values are the class ids of ``label`` and whose embedded
    palette is ``palette`` (value 255, the usual ignore index, shows ``ignore_color``; unused entries black).

    Saved as PNG it opens in colour in any viewer while tools still read class ids from it.
    """
    label = _label_array(label)
    colors = _palette_array(palette)
    if len(colors) > 255:
        raise ValueError(f"a palette image holds at most 255 classes besides the ignore value, got {len(colors)}")
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(f"label values must be in 0..255 for a palette image, got {label.min()}..{label.max()}")
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(colors)] = colors
    table[255] = ignore_color
    picture = Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8), mode="L")
    picture.putpalette(table.flatten().tolist())
    return picture


def side_by_side(
    *images: Any,
    labels: Sequence[str] | None = None,
    gap: int = 4,
    background: Color = (255, 255, 255),
    font_size: int | None = None,
) -> np.ndarray:
    """Place images left to right, top-aligned, ``gap`` pixels apart, with optional captions above them.

    Grey (``H×W``) images are shown as RGB; images of different heights are padded with ``background``.
    Captions use ``font_size`` pixels (default: ``font_size_for`` the tallest image).
    """
    if not images:
        raise ValueError("side_by_side needs at least one image")
    panels = [_rgb_array(image, f"image {i}") for i, image in enumerate(images)]
    if labels is not None and len(labels) != len(panels):
        raise ValueError(f"{len(labels)} captions for {len(panels)} images")
    caption_height = 0
    fonts = []
    if labels is not None:
        size = font_size or font_size_for(max(panel.shape[0] for panel in panels))
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        for panel, text in zip(panels, labels, strict=True):  # a caption wider than its image gets smaller
            length = probe.textlength(text, font=legend_font(size))
            fonts.append(legend_font(max(6, min(size, int(size * (panel.shape[1] - 4) / length))) if length else size))
        caption_height = max(probe.textbbox((0, 0), "Ag", font=font)[3] for font in fonts) + 4
    height = caption_height + max(panel.shape[0] for panel in panels)
    width = sum(panel.shape[1] for panel in panels) + gap * (len(panels) - 1)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[...] = background
    left = 0
    for panel in panels:
        canvas[caption_height : caption_height + panel.shape[0], left : left + panel.shape[1]] = panel
        left += panel.shape[1] + gap
    if labels is None:
        return canvas
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    left = 0
    for panel, text, font in zip(panels, labels, fonts, strict=True):
        draw.text((left + 2, 2), text, fill=(0, 0, 0), font=font)
        left += panel.shape[1] + gap
    return np.asarray(picture).copy()


def hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Convert HSV arrays (each in [0, 1]; hue wraps around) to an ``...×3`` float RGB array in [0, 1]."""
    hue = np.mod(np.asarray(hue, dtype=np.float64), 1.0) * 6.0
    saturation = np.asarray(saturation, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    sector = np.floor(hue).astype(np.int64) % 6
    fraction = hue - np.floor(hue)
    low = value * (1.0 - saturation)
    falling = value * (1.0 - fraction * saturation)
    rising = value * (1.0 - (1.0 - fraction) * saturation)
    # Per sector: which of (value, rising, low, falling) feeds red, green and blue.
    red = np.choose(sector, [value, falling, low, low, rising, value])
    green = np.choose(sector, [rising, value, value, falling, low, low])
    blue = np.choose(sector, [low, low, rising, value, value, falling])
    return np.stack((red, green, blue), axis=-1)


def _flow_array(flow: Any) -> np.ndarray:
    if hasattr(flow, "detach"):  # a torch tensor, without importing torch here
        flow = flow.detach().cpu().numpy()
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim == 4 and flow.shape[0] == 1:
        flow = flow[0]
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise ValueError(f"a flow field is a 2×H×W array (x, then y), got shape {flow.shape}")
    return flow


def flow_to_color(flow_pixels: Any, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a flow field ``2×H×W`` (x, y displacements in pixels) as an ``H×W×3`` RGB ``uint8`` image.

    Hue = direction (right red, down yellow-green, left cyan, up violet), saturation = length divided by
    ``max_magnitude`` (default: the longest displacement in the field), value = 1: zero flow is white.
    Give one ``max_magnitude`` to several fields (e.g. video frames) to make their colours comparable.
    """
    flow = _flow_array(flow_pixels)
    dx, dy = flow[0], flow[1]
    magnitude = np.hypot(dx, dy)
    if max_magnitude is None:
        max_magnitude = float(magnitude.max()) if magnitude.size else 0.0
    if max_magnitude < 0:
        raise ValueError(f"max_magnitude must be >= 0, got {max_magnitude}")
    saturation = np.clip(magnitude / max_magnitude, 0.0, 1.0) if max_magnitude > 0 else np.zeros_like(magnitude)
    hue = np.arctan2(dy, dx) / (2.0 * np.pi)  # y points down: angles grow clockwise on screen
    rgb = hsv_to_rgb(hue, saturation, np.ones_like(magnitude))
    return np.rint(rgb * 255.0).astype(np.uint8)


def flow_wheel(size: int = 64) -> np.ndarray:
    """The colour key of ``flow_to_color``: a ``size×size`` disc whose pixel colours code their offset from
    the centre (radius = ``max_magnitude``); pixels outside the disc are white."""
    if size < 2:
        raise ValueError(f"size must be at least 2, got {size}")
    centre = (size - 1) / 2.0
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    flow = np.stack((xs - centre, ys - centre))
    flow[:, np.hypot(flow[0], flow[1]) > centre] = 0.0
    return flow_to_color(flow, max_magnitude=centre)


def flow_picture(
    flow_pixels: Any,
    size: tuple[int, int] | None = None,
    max_magnitude: float | None = None,
) -> np.ndarray:
    """A flow field (``2×h×w``, displacements in flow-grid pixels) as a picture that explains itself: the
    ``flow_to_color`` image, resized to ``size`` (H, W) with nearest-neighbour sampling, and to its right a
    key: the colour wheel (its radius is ``max_magnitude``, default the field's longest displacement) and
    that radius in pixels of the flow grid and, when resized, of the picture."""
    flow = _flow_array(flow_pixels)
    grid_height, grid_width = flow.shape[1:]
    if max_magnitude is None:
        max_magnitude = float(np.hypot(flow[0], flow[1]).max()) if flow.size else 0.0
    colors = flow_to_color(flow, max_magnitude)
    height, width = size or (grid_height, grid_width)
    if (height, width) != (grid_height, grid_width):
        colors = np.asarray(Image.fromarray(colors).resize((width, height), Image.Resampling.NEAREST))
    font_size = font_size_for(height)

    def key_lines(radius: str, scaled: str) -> list[str]:
        lines = [f"wheel radius = {radius} px", f"of the {grid_width}x{grid_height} flow grid"]
        return [*lines, f"= {scaled} px of this picture"] if width != grid_width else lines

    lines = key_lines(f"{max_magnitude:.2f}", f"{max_magnitude * width / grid_width:.1f}")
    font = legend_font(font_size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad = max(2, font_size // 3)
    # Measured against wide numbers too, so that the key keeps its width from one video frame to the next.
    text_width = int(max(probe.textlength(line, font=font) for line in lines + key_lines("888.88", "8888.8")))
    wheel_size = max(16, min(height // 2, text_width))
    key = Image.new("RGB", (max(text_width, wheel_size) + 2 * pad, height), (255, 255, 255))
    key.paste(Image.fromarray(flow_wheel(wheel_size)), (pad + (key.width - 2 * pad - wheel_size) // 2, pad))
    draw = ImageDraw.Draw(key)
    for i, line in enumerate(lines):
        draw.text((pad, 2 * pad + wheel_size + i * (font_size + pad)), line, fill=(0, 0, 0), font=font)
    return with_legend(colors, np.asarray(key))


def evaluation_panel(
    image: Any,
    pred: Any,
    label: Any,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    ignore_index: int | None = 255,
) -> np.ndarray:
    """image | prediction | ground truth | error map, captioned, with one legend: the classes present in the
    prediction or the ground truth, then the error map's colours (``ERROR_MAP_LEGEND``)."""
    pred, label = _label_array(pred, "pred"), _label_array(label, "label")
    image = _rgb_array(image)
    # Wide panels are shown scaled down: letters grow with the width too.
    font_size = max(font_size_for(image.shape[0]), round(4 * image.shape[1] / 100))
    panel = side_by_side(
        image,
        colorize(pred, palette, ignore_index=ignore_index),
        colorize(label, palette, ignore_index=ignore_index, ignore_color=IGNORED_COLOR),
        error_map(pred, label, ignore_index),
        labels=["image", "prediction", "ground truth", "error map"],
        font_size=font_size,
    )
    num_classes = len(class_names)
    classes = sorted(set(present_classes(pred, num_classes, ignore_index)) |
                     set(present_classes(label, num_classes, ignore_index)))
    names = [*class_names, *(name for name, _ in ERROR_MAP_LEGEND)]
    colors = [*palette, *(color for _, color in ERROR_MAP_LEGEND)]
    extra = list(range(num_classes, num_classes + len(ERROR_MAP_LEGEND)))
    legend = draw_legend(names, colors, classes + extra, font_size=font_size, max_height=panel.shape[0])
    return with_legend(panel, legend)
