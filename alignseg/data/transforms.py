"""Albumentations pipelines for training (spec sfnet.md 4.2) and evaluation, behind one small call protocol.

A transform is called as ``transform(image, label, centroid)`` with an RGB ``uint8`` image, a ``uint8`` label
and an optional ``(x, y)`` pixel that the training crop must contain (class-uniform sampling); it returns
the normalised ``float32`` ``H×W×3`` image and the ``uint8`` label.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import cv2
import numpy as np
import torch

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A
from albumentations.augmentations.crops.transforms import BaseCrop

from alignseg.data.labels import IGNORE_INDEX
from alignseg.data.normalize import IMAGENET_MEAN, IMAGENET_STD

Centroid = tuple[float, float]
_INTERPOLATION = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
PAD_VALUES = ("zero", "mean")
PAD_POSITIONS = {"center": "center", "bottom_right": "top_left"}
"""Where the padding goes -> albumentations' ``position``, which names where the *image* is placed."""
_PADDING = "padding"
"""The extra mask target that marks padded pixels (255) when ``pad_value='mean'`` must zero them at the end."""


class Transform(Protocol):
    """What a dataset calls: ``(image, label, centroid) -> (normalised float32 image, uint8 label)``."""

    def __call__(
        self, image: np.ndarray, label: np.ndarray, centroid: Centroid | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


class CentroidCrop(BaseCrop):
    """Random crop of a fixed size that contains the first keypoint when one is given.

    The released SFNet code draws the crop origin so that the (scaled) class centroid lies inside the
    crop; the centroid travels through scaling and padding as an albumentations keypoint.
    """

    def __init__(self, height: int, width: int):
        super().__init__(p=1.0)
        self.height = height
        self.width = width

    def _origin(self, size: int, crop: int, point: float | None) -> int:
        if point is None:
            return self.py_random.randint(0, size - crop)
        pixel = min(max(int(np.floor(point)), 0), size - 1)
        return self.py_random.randint(max(0, pixel - crop + 1), min(pixel, size - crop))

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        if height < self.height or width < self.width:
            raise ValueError(
                f"CentroidCrop: input {width}x{height} is smaller than the crop {self.width}x{self.height}"
            )
        keypoints = data.get("keypoints")
        point = keypoints[0] if keypoints is not None and len(keypoints) else (None, None)
        x0 = self._origin(width, self.width, point[0])
        y0 = self._origin(height, self.height, point[1])
        return {"crop_coords": (x0, y0, x0 + self.width, y0 + self.height)}


class SegmentationTransform:
    """Runs an albumentations pipeline on an image/label pair, passing the centroid as a keypoint.

    Each DataLoader worker reseeds the pipeline from its torch worker seed (albumentations keeps its own
    generator, which every forked worker would otherwise share); in the main process the seed is drawn
    from torch's global generator, so ``torch.manual_seed`` makes augmentation reproducible.
    """

    def __init__(self, transforms: list[A.BasicTransform], seed: int | None = None, *, zero_padding: bool = False):
        # Only geometric pipelines carry the centroid (as a keypoint); pixel-only ones ignore it.
        self.moves_pixels = any(isinstance(t, A.DualTransform) for t in transforms)
        points = A.KeypointParams(format="xy", remove_invisible=False) if self.moves_pixels else None
        # zero_padding: a mask of zeros travels with the label; pixels padded into it (255) are set to 0
        # after normalisation, so padding is exactly the mean colour whatever colour jitter or blur did.
        self.zero_padding = zero_padding
        targets = {_PADDING: "mask"} if zero_padding else None
        self.pipeline = A.Compose(transforms, keypoint_params=points, additional_targets=targets)
        self.pipeline.set_random_seed(int(torch.randint(0, 2**31 - 1, ())) if seed is None else seed)
        self._worker_seed: int | None = None

    def __call__(
        self, image: np.ndarray, label: np.ndarray, centroid: Centroid | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        worker = torch.utils.data.get_worker_info()
        if worker is not None and worker.seed != self._worker_seed:
            self._worker_seed = worker.seed
            self.pipeline.set_random_seed(worker.seed % 2**32)
        if not self.moves_pixels:
            out = self.pipeline(image=image, mask=label)
            return out["image"], out["mask"]
        # The keypoint is the centre of the centroid pixel in albumentations' continuous coordinates.
        points = np.zeros((0, 2), np.float32) if centroid is None else np.array([centroid], np.float32) + 0.5
        extra = {_PADDING: np.zeros(label.shape, np.uint8)} if self.zero_padding else {}
        out = self.pipeline(image=image, mask=label, keypoints=points, **extra)
        if self.zero_padding:
            out["image"][out[_PADDING] != 0] = 0.0
        return out["image"], out["mask"]


def _normalize(mean: tuple[float, ...], std: tuple[float, ...]) -> A.Normalize:
    return A.Normalize(mean=mean, std=std, max_pixel_value=255.0, p=1.0)


def train_transforms(
    crop_size: int | tuple[int, int],
    scale_range: tuple[float, float] = (0.5, 2.0),
    *,
    scale_choices: Sequence[float] | None = None,
    hflip_p: float = 0.5,
    color_jitter: float | None = 0.25,
    blur_sigma: tuple[float, float] | None = (0.15, 1.30),
    interpolation: Literal["bilinear", "bicubic"] = "bilinear",
    pad_value: Literal["zero", "mean"] = "zero",
    pad_position: Literal["center", "bottom_right"] = "center",
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    seed: int | None = None,
) -> SegmentationTransform:
    """SFNet training pipeline: random scale, pad (image 0 / label 255), crop, flip, colour, blur, normalise.

    Images scaled below the crop size are padded to it (labels with 255). The released SFNet code pads
    with black (``pad_value='zero'``: 0 before normalisation, then colour-jittered with the image) and
    centres the image (``pad_position='center'``); the common toolboxes pad with the mean colour
    (``'mean'``: exactly 0 after normalisation, untouched by colour jitter and blur) at the bottom and right
    (``'bottom_right'``: the image at the top-left corner).

    ``scale_range`` is (0.5, 2.0) in the released code and (0.75, 2.0) in the paper; ``scale_choices``
    replaces it with a uniform draw from a set (FaPN's {0.75, 1, ..., 2.0}). ``color_jitter`` s draws
    brightness, contrast and saturation factors from U[1-s, 1+s] and a hue shift from U[-s, s] (None or 0
    turns it off); ``blur_sigma`` is the Gaussian blur's sigma range (None turns it off). Images are resized
    with ``interpolation`` (the released code uses bicubic), labels always with nearest neighbour.
    """
    height, width = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    low, high = scale_range
    if not 0 < low <= high:
        raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
    if interpolation not in _INTERPOLATION:
        raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATION)}, got {interpolation!r}")
    if pad_value not in PAD_VALUES:
        raise ValueError(f"pad_value must be one of {', '.join(PAD_VALUES)}, got {pad_value!r}")
    if pad_position not in PAD_POSITIONS:
        raise ValueError(f"pad_position must be one of {', '.join(PAD_POSITIONS)}, got {pad_position!r}")
    # 'mean' fills with the rounded mean colour so that blur mixes it, not black, into the image border.
    fill = 0 if pad_value == "zero" else tuple(round(255 * m) for m in mean)
    steps: list[A.BasicTransform] = [
        _random_scale(scale_range, scale_choices, _INTERPOLATION[interpolation]),
        A.PadIfNeeded(
            min_height=height,
            min_width=width,
            position=PAD_POSITIONS[pad_position],
            border_mode=cv2.BORDER_CONSTANT,
            fill=fill,
            fill_mask=IGNORE_INDEX,
        ),
        CentroidCrop(height, width),
        A.HorizontalFlip(p=hflip_p),
    ]
    if color_jitter:
        s = color_jitter
        factors = (1 - s, 1 + s)
        steps.append(A.ColorJitter(brightness=factors, contrast=factors, saturation=factors, hue=(-s, s), p=1.0))
    if blur_sigma is not None:
        steps.append(A.GaussianBlur(sigma_limit=blur_sigma, blur_limit=0, p=1.0))
    steps.append(_normalize(mean, std))
    return SegmentationTransform(steps, seed=seed, zero_padding=pad_value == "mean")


def _random_scale(scale_range: tuple[float, float], choices: Sequence[float] | None,
                  interpolation: int) -> A.BasicTransform:
    """Resize by a factor drawn from ``scale_range`` (uniform), or from ``choices`` (each equally likely)."""

    def scale(low: float, high: float) -> A.RandomScale:
        return A.RandomScale(scale_limit=(low - 1.0, high - 1.0), interpolation=interpolation,
                             mask_interpolation=cv2.INTER_NEAREST, p=1.0)

    if choices is None:
        return scale(*scale_range)
    if not choices or min(choices) <= 0:
        raise ValueError(f"scale_choices must be positive factors, got {list(choices)}")
    return A.OneOf([scale(c, c) for c in choices], p=1.0)


EvalResize = Literal["none", "exact", "keep_ratio", "height"]


def eval_transforms(
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    *,
    resize: EvalResize = "none",
    size: Sequence[int] | None = None,
    center_crop: int | Sequence[int] | None = None,
    resize_label: bool = True,
    interpolation: Literal["bilinear", "bicubic"] = "bilinear",
) -> Transform:
    """Evaluation pre-processing: normalisation only (full size) unless the papers' protocols ask for more.

    ``resize``: ``exact`` to ``size`` = [height, width] (UDS: 1024×2048, aspect ratio not kept);
    ``keep_ratio`` by the largest factor with short side ≤ ``size[0]`` and long side ≤ ``size[1]``
    (mmsegmentation's keep-ratio ``Resize``: ADE20K [512, 2048], Pascal Context [520, 520]); ``height`` to
    ``size`` = [height], width ``int(w / h · height)`` (SFNet's Mapillary ``ResizeHeight(1536)``).
    ``center_crop`` [height, width] then cuts the centre (origin ``round((w - width) / 2)``), padding a smaller
    image on both sides with 0 and its label with 255 (the released code pads the label with 0, a class).
    ``resize_label=False`` leaves the label at its size (predictions are resized back to it).
    """
    if resize == "none" and center_crop is None:
        return SegmentationTransform([_normalize(mean, std)], seed=0)
    return ProtocolTransform(resize, size, center_crop, resize_label, _INTERPOLATION[interpolation],
                             _normalize(mean, std))


class ProtocolTransform:
    """The resize / centre crop of an evaluation protocol, then normalisation (see ``eval_transforms``)."""

    def __init__(self, resize: EvalResize, size: Sequence[int] | None, center_crop: int | Sequence[int] | None,
                 resize_label: bool, interpolation: int, normalize: A.Normalize):
        lengths = {"none": 0, "exact": 2, "keep_ratio": 2, "height": 1}
        if resize not in lengths:
            raise ValueError(f"resize must be one of {sorted(lengths)}, got {resize!r}")
        size = [] if size is None else [int(v) for v in size]
        if len(size) != lengths[resize] or any(v < 1 for v in size):
            raise ValueError(f"resize {resize!r} needs {lengths[resize]} positive sizes, got {size}")
        if center_crop is not None and not resize_label:
            raise ValueError("a centre crop changes the label, so it needs resize_label=True")
        self.resize, self.size, self.resize_label = resize, size, resize_label
        self.crop = None if center_crop is None else (
            (center_crop, center_crop) if isinstance(center_crop, int) else tuple(center_crop))
        self.interpolation, self.normalize = interpolation, normalize

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` after the resize step."""
        if self.resize == "exact":
            return self.size[0], self.size[1]
        if self.resize == "keep_ratio":
            factor = min(self.size[1] / max(height, width), self.size[0] / min(height, width))
            return int(height * factor + 0.5), int(width * factor + 0.5)
        if self.resize == "height":
            return self.size[0], int(width / height * self.size[0])
        return height, width

    def __call__(
        self, image: np.ndarray, label: np.ndarray, centroid: Centroid | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        height, width = self.output_size(*image.shape[:2])
        if (height, width) != image.shape[:2]:
            image = cv2.resize(image, (width, height), interpolation=self.interpolation)
            if self.resize_label:
                label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
        if self.crop is not None:
            image, label = _center_crop(image, label, *self.crop)
        return self.normalize(image=image)["image"], label


def _center_crop(image: np.ndarray, label: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre ``height × width`` of both arrays, padding a smaller side evenly (image 0, label 255)."""
    pad_y, pad_x = max(height - image.shape[0], 0), max(width - image.shape[1], 0)
    if pad_y or pad_x:
        border = (pad_y // 2, pad_y - pad_y // 2, pad_x // 2, pad_x - pad_x // 2)
        image = cv2.copyMakeBorder(image, *border, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        label = cv2.copyMakeBorder(label, *border, cv2.BORDER_CONSTANT, value=IGNORE_INDEX)
    y0, x0 = round((image.shape[0] - height) / 2), round((image.shape[1] - width) / 2)
    return image[y0 : y0 + height, x0 : x0 + width], label[y0 : y0 + height, x0 : x0 + width]
