"""A procedurally generated segmentation set for the no-download demo and fast end-to-end tests.

Every class is a shape kind with its own colour and stripe texture, drawn with noise over a textured,
low-saturation background (class 0), so a small network learns it to a high mIoU in minutes on a CPU.
Sample ``i`` depends only on ``(seed, i)``.
"""

from __future__ import annotations

import colorsys
import hashlib

import cv2
import numpy as np

from alignseg.data.datasets.base import SegmentationDataset
from alignseg.data.errors import DataError
from alignseg.data.transforms import Transform

SHAPE_KINDS = ("disk", "square", "triangle", "ring", "cross", "bar")
MAX_CLASSES = 1 + 2 * len(SHAPE_KINDS)


class ProceduralShapes(SegmentationDataset):
    """``num_samples`` images of ``size`` (int or (H, W)): ``num_classes - 1`` shape classes on background."""

    def __init__(
        self,
        num_samples: int = 256,
        size: int | tuple[int, int] = 128,
        num_classes: int = 6,
        seed: int = 0,
        *,
        transform: Transform | None = None,
    ):
        if not 2 <= num_classes <= MAX_CLASSES:
            raise DataError(f"ProceduralShapes: num_classes must be in 2..{MAX_CLASSES}, got {num_classes}")
        self.height, self.width = (size, size) if isinstance(size, int) else size
        if min(self.height, self.width) < 16:
            raise DataError(f"ProceduralShapes: size must be at least 16 pixels, got {size}")
        if num_samples < 1:
            raise DataError(f"ProceduralShapes: num_samples must be at least 1, got {num_samples}")
        self.num_samples, self.seed = num_samples, seed
        names, palette = ["background"], [(128, 128, 128)]
        for c in range(1, num_classes):
            kind, cycle = SHAPE_KINDS[(c - 1) % len(SHAPE_KINDS)], (c - 1) // len(SHAPE_KINDS)
            names.append(kind if cycle == 0 else f"{kind}_{cycle + 1}")
            rgb = colorsys.hsv_to_rgb((c - 1) / (num_classes - 1), 0.85, 0.9)
            palette.append(tuple(round(255 * v) for v in rgb))
        self._colors = np.array(palette, dtype=np.float32) / 255.0
        self._yy, self._xx = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        super().__init__((), names, palette=palette, transform=transform)

    def __len__(self) -> int:
        return self.num_samples

    def sample_name(self, index: int) -> str:
        return f"shapes-seed{self.seed}-{index:06d}"

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"ProceduralShapes index {index} out of range 0..{self.num_samples - 1}")
        rng = np.random.default_rng([self.seed, index])
        height, width = self.height, self.width
        image = self._background(rng)
        label = np.zeros((height, width), dtype=np.uint8)
        foreground = rng.permutation(np.arange(1, self.num_classes))
        for c in foreground[: min(len(foreground), int(rng.integers(3, 7)))]:
            radius = rng.uniform(0.1, 0.22) * min(height, width)
            cx, cy = (
                rng.uniform(radius * 0.5, width - radius * 0.5),
                rng.uniform(radius * 0.5, height - radius * 0.5),
            )
            angle = rng.uniform(0, np.pi)
            u = (self._xx - cx) * np.cos(angle) + (self._yy - cy) * np.sin(angle)
            v = -(self._xx - cx) * np.sin(angle) + (self._yy - cy) * np.cos(angle)
            mask = _shape_mask(SHAPE_KINDS[(c - 1) % len(SHAPE_KINDS)], u, v, radius)
            period = 3.0 + 2.0 * ((c - 1) // len(SHAPE_KINDS)) + (c % 3)
            stripes = 1.0 + 0.15 * np.sign(np.sin(2 * np.pi * u[mask] / period))
            color = self._colors[c] + rng.normal(0.0, 0.04, 3)
            image[mask] = np.clip(color[None, :] * stripes[:, None], 0.0, 1.0)
            label[mask] = c
        image += rng.normal(0.0, 0.04, image.shape).astype(np.float32)
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), label

    def read_label(self, index: int) -> np.ndarray:
        return self.load(index)[1]

    def fingerprint(self) -> str:
        key = (self.num_samples, self.height, self.width, self.num_classes, self.seed)
        return hashlib.sha256(f"ProceduralShapes-v1 {key}".encode()).hexdigest()

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        """Smooth low-saturation blotches plus fine grain, in float32 RGB [0, 1]."""
        coarse = rng.random((self.height // 16 + 2, self.width // 16 + 2, 3), dtype=np.float32)
        smooth = cv2.resize(coarse, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        grey = smooth.mean(axis=2, keepdims=True)
        tone = rng.uniform(0.35, 0.6)
        return (tone + 0.35 * (grey - 0.5) + 0.08 * (smooth - grey)).astype(np.float32)


def _shape_mask(kind: str, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of a shape centred at the origin of the rotated coordinates ``(u, v)``."""
    if kind == "disk":
        return u * u + v * v <= r * r
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8 * r
    if kind == "triangle":
        inside = np.ones(u.shape, dtype=bool)
        for k in range(3):
            a = 2 * np.pi * k / 3
            inside &= u * np.cos(a) + v * np.sin(a) <= 0.5 * r
        return inside
    if kind == "ring":
        d2 = u * u + v * v
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if kind == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= 0.3 * r) & (av <= r)) | ((av <= 0.3 * r) & (au <= r))
    if kind == "bar":
        return (np.abs(u) <= 1.3 * r) & (np.abs(v) <= 0.35 * r)
    raise ValueError(f"unknown shape kind {kind!r}")
