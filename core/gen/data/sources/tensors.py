"""A data set already decoded into one uint8 tensor: the built-in sets small enough to read
whole (MNIST's IDX files, CIFAR-10's pickles), which the core then converts in one vectorised
pass instead of item by item."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class TensorItems(Dataset):
    """``images`` uint8 (N, C, H, W), ``labels`` int64 (N,) or None."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None,
                 num_classes: int | None, classes: list[str] | None = None,
                 fingerprint: str | None = None):
        self.images = images
        self.labels = labels
        self.num_classes = num_classes
        self.classes = classes
        self.fingerprint = fingerprint

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], 0 if self.labels is None else int(self.labels[index])
