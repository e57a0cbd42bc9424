"""Endless shuffled batches for training: from an in-memory data set that already lives on the
device (`BatchStream`), or read from a decoded cache on disk by worker processes
(`StreamedBatches`). Both walk the same seeded order, so the data a step sees never depends on
``data.storage``, and both resume at the exact batch a checkpoint recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from gen.data.batch import Batch
from gen.data.cache import CacheReader, DecodedCache
from gen.data.datasets import ImageSet, binarize
from gen.data.decode import ignore_stop_signals
from gen.errors import DataError


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The order of epoch ``epoch``: a permutation seeded from ``(seed, epoch)``."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def finish(images: torch.Tensor, labels: torch.Tensor | None, dynamic_binarize: bool,
           hflip: bool, channels_last: bool) -> Batch:
    """uint8 images on the device as a training batch in [-1, 1]. Dynamic binarisation and
    flips draw from the global RNG, which checkpoints save and restore."""
    if dynamic_binarize:
        images = binarize(images)
    images = images.float().div_(127.5).sub_(1.0)
    if hflip:
        flip = torch.rand(images.shape[0], device=images.device) < 0.5
        images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return Batch(images, labels)


def _check_batch(batch_size: int, n: int, world_size: int) -> None:
    if batch_size > n:
        raise DataError(f"train.batch_size is {batch_size} but the data set has only {n} images")
    if batch_size % world_size:
        raise DataError(
            f"train.batch_size is {batch_size}, which {world_size} processes cannot share "
            f"equally: use a multiple of {world_size}"
        )


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
                 rank: int = 0, world_size: int = 1, channels_last: bool = False,
                 hflip: bool = False):
        _check_batch(batch_size, data.images.shape[0], world_size)
        self.hflip = hflip
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
        return epoch_order(self.seed, epoch, self.images.shape[0]).to(self.device)

    def __call__(self) -> Batch:
        if self.position + self.batch_size > self._order.shape[0]:
            self.epoch += 1
            self.position = 0
            self._order = self._permutation(self.epoch)
        start = self.position + self.rank * self.shard
        idx = self._order[start : start + self.shard]
        self.position += self.batch_size
        self.images_drawn += self.batch_size
        labels = None if self.labels is None else self.labels[idx]
        return finish(self.images[idx], labels, self.dynamic_binarize, self.hflip,
                      self.channels_last)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._order = self._permutation(self.epoch)


class _Indices(torch.utils.data.Sampler):
    """This process's share of every global batch from ``(epoch, position)`` on, forever: what
    the loader's workers read ahead."""

    def __init__(self, stream: StreamedBatches, epoch: int, position: int):
        self.stream, self.epoch, self.position = stream, epoch, position

    def __iter__(self):
        s, epoch, position = self.stream, self.epoch, self.position
        order = epoch_order(s.seed, epoch, s.num_images)
        while True:
            if position + s.batch_size > s.num_images:
                epoch, position = epoch + 1, 0
                order = epoch_order(s.seed, epoch, s.num_images)
            start = position + s.rank * s.shard
            yield order[start : start + s.shard].tolist()
            position += s.batch_size


class StreamedBatches:
    """`BatchStream`'s batches, read from a decoded cache by ``workers`` processes (each reads
    only this process's shard of each batch) and moved to the device as they are needed; the
    state is the same ``(epoch, position)``."""

    def __init__(self, cache: DecodedCache, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world_size: int = 1, channels_last: bool = False,
                 hflip: bool = False, dynamic_binarize: bool = False, workers: int = 2):
        _check_batch(batch_size, cache.num_images, world_size)
        self.reader = CacheReader(cache)
        self.num_images = cache.num_images
        self.batch_size, self.seed, self.rank = batch_size, seed, rank
        self.shard = batch_size // world_size
        self.device = torch.device(device)
        self.channels_last, self.hflip = channels_last, hflip
        self.dynamic_binarize = dynamic_binarize
        self.workers = workers
        self.epoch = 0
        self.position = 0
        self.images_drawn = 0
        self._batches = None

    def _open(self):
        loader = torch.utils.data.DataLoader(
            self.reader, sampler=_Indices(self, self.epoch, self.position), batch_size=None,
            num_workers=self.workers, pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.workers else None,
            worker_init_fn=ignore_stop_signals,
            generator=torch.Generator().manual_seed(0),  # never a draw from the global RNG
        )
        return iter(loader)

    def __call__(self) -> Batch:
        if self._batches is None:
            self._batches = self._open()
        if self.position + self.batch_size > self.num_images:
            self.epoch, self.position = self.epoch + 1, 0
        images, labels = next(self._batches)
        images = images.to(self.device, non_blocking=True)
        if labels is not None:
            labels = labels.to(self.device, non_blocking=True)
        self.position += self.batch_size
        self.images_drawn += self.batch_size
        return finish(images, labels, self.dynamic_binarize, self.hflip, self.channels_last)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._batches = None  # reopened at the restored position

    def close(self) -> None:
        self._batches = None  # the workers end with their iterator


def sequential_batches(
    data: ImageSet, batch_size: int, device: torch.device
) -> Iterator[Batch]:
    """Every image once, in order, for evaluation (the last batch may be smaller)."""
    for start in range(0, data.images.shape[0], batch_size):
        images = data.images[start : start + batch_size].to(device)
        labels = None if data.labels is None else data.labels[start : start + batch_size]
        yield Batch(images.float().div_(127.5).sub_(1.0),
                    None if labels is None else labels.to(device))
