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

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "CORRECT_COLOR",
    "IGNORED_COLOR",
    "WRONG_COLOR",
    "colorize",
    "draw_legend",
    "error_map",
    "flow_to_color",
    "flow_wheel",
    "hsv_to_rgb",
    "overlay",
    "side_by_side",
]

Color = tuple[int, int, int]

CORRECT_COLOR: Color = (0, 255, 0)
WRONG_COLOR: Color = (255, 0, 0)
IGNORED_COLOR: Color = (0, 0, 0)


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
    colors = colorize(label, palette, ignore_index=ignore_index).astype(np.float32)
    blended = np.rint((1.0 - alpha) * image.astype(np.float32) + alpha * colors).astype(np.uint8)
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
    """RGB map of where a prediction is right (green), wrong (red) or not scored (black: label = ignore)."""
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


def _caption_font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def draw_legend(
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    classes: Sequence[int] | None = None,
    *,
    font_size: int = 16,
    max_height: int | None = None,
    background: Color = (255, 255, 255),
) -> np.ndarray:
    """A legend picture: a framed colour swatch and the name of each class in ``classes`` (default: all).

    Entries run top to bottom and start a new column when ``max_height`` pixels are filled.
    """
    colors = _palette_array(palette)
    if len(class_names) != len(colors):
        raise ValueError(f"{len(class_names)} class names for {len(colors)} palette colours")
    chosen = list(range(len(colors))) if classes is None else [int(c) for c in classes]
    if any(not 0 <= c < len(colors) for c in chosen):
        raise ValueError(f"legend classes {chosen} are not all in 0..{len(colors) - 1}")
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow < 10.1 has only its small bitmap font
        font = ImageFont.load_default()
    margin, line = max(2, font_size // 3), font_size + 2 * max(2, font_size // 3)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text = max((probe.textlength(class_names[c], font=font) for c in chosen), default=0.0)
    column = int(font_size + text) + 4 * margin
    per_column = max(1, (max_height - margin) // line) if max_height else max(1, len(chosen))
    columns = max(1, -(-len(chosen) // per_column))
    picture = Image.new("RGB", (columns * column, min(len(chosen), per_column) * line + margin), background)
    draw = ImageDraw.Draw(picture)
    for i, c in enumerate(chosen):
        left, top = (i // per_column) * column + margin, (i % per_column) * line + margin
        draw.rectangle((left, top, left + font_size, top + font_size), fill=tuple(int(v) for v in colors[c]),
                       outline=(90, 90, 90))
        draw.text((left + font_size + margin, top + font_size / 2), class_names[c], fill=(0, 0, 0), font=font,
                  anchor="lm")
    return np.asarray(picture).copy()


def side_by_side(
    *images: Any,
    labels: Sequence[str] | None = None,
    gap: int = 4,
    background: Color = (255, 255, 255),
) -> np.ndarray:
    """Place images left to right, top-aligned, ``gap`` pixels apart, with optional captions above them.

    Grey (``H×W``) images are shown as RGB; images of different heights are padded with ``background``.
    """
    if not images:
        raise ValueError("side_by_side needs at least one image")
    panels = [_rgb_array(image, f"image {i}") for i, image in enumerate(images)]
    if labels is not None and len(labels) != len(panels):
        raise ValueError(f"{len(labels)} captions for {len(panels)} images")
    caption_height = 0
    font = None
    if labels is not None:
        font = _caption_font()
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        caption_height = max(probe.textbbox((0, 0), text or "Ag", font=font)[3] for text in labels) + 4
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
    for panel, text in zip(panels, labels, strict=True):
        draw.text((left + 2, 1), text, fill=(0, 0, 0), font=font)
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
