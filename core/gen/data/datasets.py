"""Load a data set into memory as one uint8 tensor (N, C, H, W) plus optional int64 labels.

Any registered data set loads this way (`gen.data.source` opens it, `gen.data.decode` converts
it once), so a training step only indexes a tensor. ``data.storage=stream`` keeps the decoded
images on disk instead (`gen.data.cache`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from gen.data.decode import decode
from gen.data.fit import to_channels
from gen.data.info import DataInfo
from gen.data.source import Source, open_source
from gen.specs import DataSpec

__all__ = ["ImageSet", "binarize", "data_info", "held_out", "load_dataset", "load_source",
           "to_channels"]

# Static binarisation is one fixed draw, the same on every machine and in every run.
STATIC_BINARIZE_SEED = 0


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,)
    info: DataInfo
    dynamic_binarize: bool = False  # draw 0/255 pixels anew for every batch


def load_dataset(spec: DataSpec, plugins: Any = None,
                 log: Callable[[str], None] | None = None) -> ImageSet:
    """Read ``spec``'s data set whole; a missing or unusable one raises `DataError` saying
    where gen looked and what to do."""
    return load_source(spec, open_source(spec, plugins, log))


def load_source(spec: DataSpec, source: Source) -> ImageSet:
    """An opened source decoded whole into memory."""
    chunks = list(decode(source, spec))
    images = torch.cat([c[0] for c in chunks])
    labels = torch.cat([c[1] for c in chunks]) if source.num_classes is not None else None
    if spec.binarize == "static":
        images = binarize(images, torch.Generator().manual_seed(STATIC_BINARIZE_SEED))
    return ImageSet(images.contiguous(), labels,
                    data_info(spec, source, images.shape[1], images.shape[0]),
                    spec.binarize == "dynamic")


def data_info(spec: DataSpec, source: Source, channels: int, num_images: int) -> DataInfo:
    return DataInfo(
        name=spec.dataset,
        channels=channels,
        image_size=spec.image_size,
        num_classes=source.num_classes,
        num_images=num_images,
        binary=spec.binarize != "none",
        classes=None if source.classes is None else tuple(source.classes),
        fingerprint=source.digest,
    )


def held_out(spec: DataSpec, split: str, limit: int | None = None) -> DataSpec:
    """The data spec for evaluating a run on ``split``: dynamic binarisation becomes the fixed
    static draw, so every evaluation scores the same images."""
    binarize = "static" if spec.binarize == "dynamic" else spec.binarize
    return spec.model_copy(update={"split": split, "binarize": binarize, "limit": limit})


def binarize(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarisation (Salakhutdinov & Murray 2008): each uint8 pixel becomes 255 with
    probability intensity/255, else 0."""
    p = images.float() / 255
    u = torch.rand(p.shape, generator=generator, device=p.device)
    return (u < p).to(torch.uint8) * 255
