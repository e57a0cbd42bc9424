"""What a training step receives: a batch of images and, for labelled data, their labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch


class Batch(NamedTuple):
    """Images scaled to [-1, 1], shape (N, C, H, W), and int64 labels (N,) or None."""

    images: torch.Tensor
    labels: torch.Tensor | None


NextBatch = Callable[[], Batch]
