"""The input normalisation of every alignseg model: RGB in [0, 1], then ImageNet mean and std per channel."""

from __future__ import annotations

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
