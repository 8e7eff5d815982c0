"""Test-time inference modes as released with SFNet (spec 4.6): whole image, sliding window, and
multi-scale + horizontal flip, all averaging LOGITS (no softmax) and returning logits at the input size.

``model`` maps images ``N×3×H×W`` to logits ``N×K×H×W`` (an alignseg segmentor in eval mode; put it in
eval mode first). Outputs of another size are resized to the input size. Every resize is bilinear with
the model's convention ``align_corners`` (``model.align_corners`` of a segmentor), which every function
here requires; nothing here tracks gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.ops.resize import resize_like

__all__ = ["multi_scale_inference", "sliding_window_inference", "tile_starts", "whole_inference"]

Model = Callable[[Tensor], Tensor]


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_image(image: Tensor) -> None:
    if not isinstance(image, Tensor) or image.dim() != 4:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"expected an image batch N×C×H×W, got {shape}")


def _forward(model: Model, image: Tensor, align_corners: bool) -> Tensor:
    """Run the model and return its logits at the image size."""
    logits = model(image)
    if not isinstance(logits, Tensor):
        raise TypeError(
            f"the model returned {type(logits).__name__}, not a logits tensor; call model.eval() so that "
            "a segmentor returns logits at the input size"
        )
    if logits.dim() != 4 or logits.shape[0] != image.shape[0]:
        raise ValueError(
            f"the model returned {tuple(logits.shape)} for input {tuple(image.shape)}; expected N×K×H×W"
        )
    return resize_like(logits, (image.shape[-2], image.shape[-1]), align_corners=align_corners)


@torch.no_grad()
def whole_inference(model: Model, image: Tensor, *, align_corners: bool) -> Tensor:
    """Logits of the whole image in one forward pass."""
    _check_image(image)
    return _forward(model, image, align_corners)


def tile_starts(size: int, window: int, stride: int) -> list[int]:
    """Offsets of the tiles covering ``[0, size)`` (``size >= window``): every ``stride`` pixels, the
    last tile moved back to end at the border, as in the released ``sliding_window_cropping``."""
    count = math.ceil((size - window) / stride) + 1
    return [min(i * stride, size - window) for i in range(count)]


@torch.no_grad()
def sliding_window_inference(
    model: Model,
    image: Tensor,
    window: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    overlap: float = 1 / 3,
    *,
    align_corners: bool,
) -> Tensor:
    """Logits from overlapping ``window`` tiles, summed into a full map and divided by the per-pixel count.

    ``stride`` defaults to ``ceil(window · (1 − overlap))`` per side, the released formula, float
    rounding included (overlap 1/3: 555 for an 832 window, but 7 for a 9 window). An image smaller
    than the window is zero-padded at the bottom/right to the window size and the result cropped back.
    """
    _check_image(image)
    win_h, win_w = _pair(window, "window")
    if stride is None:
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        stride_h, stride_w = math.ceil(win_h * (1 - overlap)), math.ceil(win_w * (1 - overlap))
    else:
        stride_h, stride_w = _pair(stride, "stride")
    if stride_h > win_h or stride_w > win_w:
        raise ValueError(f"stride {(stride_h, stride_w)} larger than window {(win_h, win_w)} leaves gaps")

    height, width = image.shape[-2:]
    pad_h, pad_w = max(win_h - height, 0), max(win_w - width, 0)
    padded = F.pad(image, (0, pad_w, 0, pad_h)) if pad_h or pad_w else image
    full_h, full_w = padded.shape[-2:]
    logits_sum: Tensor | None = None
    count = torch.zeros(full_h, full_w, device=image.device)
    for top in tile_starts(full_h, win_h, stride_h):
        for left in tile_starts(full_w, win_w, stride_w):
            tile = _forward(model, padded[..., top : top + win_h, left : left + win_w], align_corners)
            if logits_sum is None:
                logits_sum = tile.new_zeros(image.shape[0], tile.shape[1], full_h, full_w)
            logits_sum[..., top : top + win_h, left : left + win_w] += tile
            count[top : top + win_h, left : left + win_w] += 1
    assert logits_sum is not None  # at least one tile always runs
    return (logits_sum / count.to(logits_sum.dtype))[..., :height, :width]


@torch.no_grad()
def multi_scale_inference(
    model: Model,
    image: Tensor,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    mode: Literal["whole", "sliding"] = "whole",
    window: int | Sequence[int] | None = None,
    stride: int | Sequence[int] | None = None,
    overlap: float = 1 / 3,
    scale_window: bool = True,
    *,
    align_corners: bool,
) -> Tensor:
    """Mean of the logits over ``scales`` × (no flip, horizontal flip if ``flip``), at the input size.

    Per scale ``s`` the image is resized to ``(int(H·s), int(W·s))`` and run whole or in sliding
    windows; a flipped pass has its logits flipped back; each pass is resized to ``H×W`` and the
    passes are averaged as logits, as released. In sliding mode the window is ``int(window · s)`` for
    ``s >= 1`` when ``scale_window`` (the released tile size; an explicit ``stride`` is used as given).
    """
    _check_image(image)
    if mode not in ("whole", "sliding"):
        raise ValueError(f"mode must be 'whole' or 'sliding', got {mode!r}")
    if mode == "sliding" and window is None:
        raise ValueError("sliding mode needs a window size")
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(f"scales must be a non-empty sequence of positive numbers, got {scales!r}")

    height, width = image.shape[-2:]

    def one_pass(scale: float, flipped: bool) -> Tensor:
        view = resize_like(image, (max(1, int(height * scale)), max(1, int(width * scale))),
                           align_corners=align_corners)
        view = view.flip(-1) if flipped else view
        if mode == "whole":
            logits = whole_inference(model, view, align_corners=align_corners)
        else:
            tile_h, tile_w = _pair(window, "window")
            if scale_window and scale >= 1:
                tile_h, tile_w = int(tile_h * scale), int(tile_w * scale)
            logits = sliding_window_inference(model, view, (tile_h, tile_w), stride=stride, overlap=overlap,
                                              align_corners=align_corners)
        return resize_like(logits.flip(-1) if flipped else logits, (height, width), align_corners=align_corners)

    passes = [(scale, flipped) for scale in scales for flipped in ((False, True) if flip else (False,))]
    return sum(one_pass(scale, flipped) for scale, flipped in passes) / len(passes)
