"""Batches drawn by index from an in-memory data set that already lives on the device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from gen.data.batch import Batch
from gen.data.datasets import ImageSet, binarize
from gen.errors import DataError


class BatchStream:
    """An endless stream of shuffled batches, without replacement within an epoch.

    Epoch ``e`` is ordered by a permutation seeded from ``(seed, e)``, so the whole state of the
    stream is ``(epoch, position)``: a resumed run draws exactly the batches it would have drawn.
    The last incomplete batch of an epoch is dropped, as batch norm prefers.

    In a run of ``world_size`` processes ``batch_size`` is the global batch: every process
    walks the same permutation and takes its own contiguous ``batch_size / world_size`` slice
    of each global batch, so the processes together see exactly the batches one process would.
    """

    def __init__(self, data: ImageSet, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world_size: int = 1, channels_last: bool = False):
        n = data.images.shape[0]
        if batch_size > n:
            raise DataError(
                f"train.batch_size is {batch_size} but the data set has only {n} images"
            )
        if batch_size % world_size:
            raise DataError(
                f"train.batch_size is {batch_size}, which {world_size} processes cannot share "
                f"equally: use a multiple of {world_size}"
            )
        self.shard = batch_size // world_size
        self.rank = rank
        self.channels_last = channels_last
        self.images = data.images.to(device)
        self.dynamic_binarize = data.dynamic_binarize
        self.labels = None if data.labels is None else data.labels.to(device)
        self.batch_size = batch_size
        self.seed = seed
        self.device = torch.device(device)
        self.epoch = 0
        self.position = 0
        self.images_drawn = 0  # by all processes, for images/s; not part of the resumable state
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.images.shape[0], generator=g).to(self.device)

    def __call__(self) -> Batch:
        if self.position + self.batch_size > self._order.shape[0]:
            self.epoch += 1
            self.position = 0
            self._order = self._permutation(self.epoch)
        start = self.position + self.rank * self.shard
        idx = self._order[start : start + self.shard]
        self.position += self.batch_size
        self.images_drawn += self.batch_size
        images = self.images[idx]
        if self.dynamic_binarize:  # from the global RNG, which checkpoints save and restore
            images = binarize(images)
        images = images.float().div_(127.5).sub_(1.0)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        labels = None if self.labels is None else self.labels[idx]
        return Batch(images, labels)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._order = self._permutation(self.epoch)


def sequential_batches(
    data: ImageSet, batch_size: int, device: torch.device
) -> Iterator[Batch]:
    """Every image once, in order, for evaluation (the last batch may be smaller)."""
    for start in range(0, data.images.shape[0], batch_size):
        images = data.images[start : start + batch_size].to(device)
        labels = None if data.labels is None else data.labels[start : start + batch_size]
        yield Batch(images.float().div_(127.5).sub_(1.0),
                    None if labels is None else labels.to(device))
