"""Where the training images live while a run trains (``data.storage``): decoded into one
tensor on the device (memory), or decoded once into a cache file and read batch by batch by
worker processes (stream); ``auto`` picks memory when the decoded set fits
``data.memory_budget_mb``."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from gen.data.cache import open_cache
from gen.data.changes import check_channels, check_resumed
from gen.data.datasets import ImageSet, data_info, load_source
from gen.data.info import DataInfo
from gen.data.loader import BatchStream, StreamedBatches
from gen.data.source import Source, dataset_cache, open_source
from gen.errors import DataError, GenError, TrainingError
from gen.specs import DataSpec, TrainSpec


def choose_storage(spec: DataSpec, source: Source) -> tuple[str, str]:
    """``memory`` or ``stream``, and why, in words."""
    channels = spec.channels or _channels(source)
    mib = source.size * channels * spec.image_size**2 / 2**20
    size = f"{source.size:,} images of {channels}x{spec.image_size}x{spec.image_size}, " \
           f"{mib:,.1f} MiB decoded"
    if spec.storage != "auto":
        return spec.storage, f"{size}; data.storage={spec.storage}"
    if mib <= spec.memory_budget_mb:
        return "memory", f"{size}, within data.memory_budget_mb={spec.memory_budget_mb}: in memory"
    return "stream", (f"{size}, over data.memory_budget_mb={spec.memory_budget_mb}: streamed "
                      "from a decoded cache")


def training_data(spec: DataSpec, train: TrainSpec, device: torch.device, world: Any,
                  say: Callable[[str], None], conditional: str | None = None,
                  trained: dict[str, Any] | None = None
                  ) -> tuple[DataInfo, BatchStream | StreamedBatches]:
    """The run's data description and its batch stream. Under torchrun the main process
    builds the decoded cache while the others wait, then each reads only its own shard.
    ``conditional`` names a model that needs labels: unlabelled data is refused first.
    ``trained`` (a resumed run's checkpoint's data info) is compared with the data before it
    is decoded (`gen.data.changes`)."""
    main = world is None or world.is_main
    source = open_source(spec, log=say if main else _quiet)
    if trained is not None:
        check_resumed(trained, source, warn=main)
    if conditional and source.num_classes is None:
        raise DataError(
            f"{conditional} is conditional and needs class labels, but the {spec.dataset} data "
            "has none (for image-folder: one sub-folder per class)"
        )
    storage, why = choose_storage(spec, source)
    if main:
        say(f"data: {why}")
    rank, size = (world.rank, world.size) if world else (0, 1)
    if storage == "memory":
        start = time.perf_counter()
        data: ImageSet = load_source(spec, source)
        if trained is not None:
            check_channels(trained, data.info.channels, source)
        if main:
            seconds = time.perf_counter() - start
            say(f"data: decoded {source.size:,} images in {seconds:.1f} s "
                f"({source.size / max(seconds, 1e-9):,.0f} images/s)")
        stream = BatchStream(data, train.batch_size, train.seed, device, rank=rank,
                             world_size=size, channels_last=train.channels_last, hflip=spec.hflip)
        return data.info, stream
    folder = dataset_cache(source.info) / "decoded"
    failed = None
    cache = None
    if main:
        try:
            cache = open_cache(spec, source, folder, say, build=True)
        except GenError as exc:
            failed = exc
    if world is not None and world.any(failed is not None) and failed is None:
        raise TrainingError("process 0 could not decode the data (its error is above)")
    if failed is not None:
        raise failed
    if cache is None:
        cache = open_cache(spec, source, folder, say, build=False)
    if trained is not None:
        check_channels(trained, cache.channels, source)
    info = data_info(spec, source, cache.channels, cache.num_images)
    stream = StreamedBatches(cache, train.batch_size, train.seed, device, rank=rank,
                             world_size=size, channels_last=train.channels_last,
                             hflip=spec.hflip, dynamic_binarize=spec.binarize == "dynamic",
                             workers=spec.workers)
    return info, stream


def _channels(source: Source) -> int:
    """The data's own channels, from its first item (3, the most, where it cannot be read:
    the decoding pass then names the problem, and warns what reading it warns)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(source.dataset[0][0].shape[0])
    except Exception:
        return 3


def _quiet(line: str) -> None:
    pass
