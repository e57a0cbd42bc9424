"""Shape every image the same way, whatever its source: channels converted, then fitted to a
square of ``data.image_size`` (the one place gen resizes data)."""

from __future__ import annotations

from typing import Literal

import torch
from torch.nn import functional as F
from torchvision.transforms.v2 import functional as TF

Crop = Literal["center", "resize", "pad"]


def to_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """uint8 images (N, C, H, W) with ``channels`` channels: grey to RGB by repetition, RGB to
    grey by ITU-R 601 luma (the data loader's rule, which scoring spaces follow too)."""
    if channels is None or images.shape[1] == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1)
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


def fit(images: torch.Tensor, size: int, crop: Crop = "center") -> torch.Tensor:
    """uint8 images (N, C, H, W) as (N, C, size, size). Square images are resized; others are
    fitted by ``crop``: ``center`` scales the short side to ``size`` and keeps the middle,
    ``resize`` stretches, ``pad`` scales the long side to ``size`` and pads the rest black."""
    h, w = images.shape[-2:]
    if h == w == size:
        return images
    if h == w or crop == "resize":
        return TF.resize(images, [size, size], antialias=True)
    if crop == "center":
        scale = size / min(h, w)
        shape = [max(size, round(h * scale)), max(size, round(w * scale))]
        return TF.center_crop(TF.resize(images, shape, antialias=True), [size, size])
    scale = size / max(h, w)
    shape = [min(size, max(1, round(h * scale))), min(size, max(1, round(w * scale)))]
    small = TF.resize(images, shape, antialias=True)
    top, left = (size - shape[0]) // 2, (size - shape[1]) // 2
    return F.pad(small, (left, size - shape[1] - left, top, size - shape[0] - top))
