"""The contract of a feature extractor, and how one is built by its registered name.

An extractor is a frozen torch module mapping uint8 images (N, C, H, W), as a data set stores
them, to float features (N, num_features). It says which weights it is (``weights_hash``) so
every score can be traced to them, and may add ``details`` (a classifier's test accuracy, say)
that are stored with each score. One whose network takes a fixed size declares it
(``input_size``), and then also takes float32 images in [0, 255] already at that size (what the
clean-fid convention hands it, `gen.evaluation.conventions`). A classifier declares
``has_logits`` and gives class logits from its features (``classify``), which the Inception
Score needs.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gen.errors import PluginError
from gen.extractors.cache import extractor_cache
from gen.plugins import Plugins
from gen.specs import DataSpec


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ExtractorRequest:
    """What an extractor's builder is told: which images it will see and where it runs."""

    data: DataSpec  # the run's data set (a domain classifier trains on its train part)
    channels: int  # of the images the extractor is given
    image_size: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    weights: str | None = None  # a weights file the user named (--extractor-weights)
    cache: Path = field(default_factory=extractor_cache)  # files kept between runs
    log: Callable[[str], None] = _stderr  # messages for the user


class Extractor(nn.Module):
    """Base class of extractors: set ``name``, ``num_features``, ``weights_hash`` (and
    optionally ``details``) in ``__init__`` and implement ``forward(images)``. Never trains."""

    name: str
    num_features: int  # torchmetrics reads it instead of probing with a dummy image
    weights_hash: str  # "sha256:<hex>" of the weights
    details: dict[str, Any]
    input_size: int | None = None  # the image size its network takes (inception: 299)
    has_logits = False  # whether `classify` gives class logits

    def __init__(self) -> None:
        super().__init__()
        self.details = {}

    def train(self, mode: bool = True) -> Extractor:
        return super().train(False)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits (N, classes) of images from their features (what ``forward``
        returned); only where ``has_logits``."""
        raise NotImplementedError(f"extractor {self.name!r} has no class logits")


def build_extractor(plugins: Plugins, name: str, request: ExtractorRequest) -> Extractor:
    """The extractor registered as ``name``, built for ``request``, frozen, on its device."""
    info = plugins.registry.get_extractor(name)
    extractor = info.builder()(request)
    missing = [a for a in ("num_features", "weights_hash") if not hasattr(extractor, a)]
    if not isinstance(extractor, nn.Module) or missing:
        raise PluginError(
            f"plugin {info.plugin!r}: extractor {name!r} must build a torch module with "
            f"num_features and weights_hash (missing: {', '.join(missing) or 'nn.Module'})"
        )
    extractor.name = name
    extractor.requires_grad_(False)
    return extractor.eval().to(request.device)


def has_logits(extractor: nn.Module) -> bool:
    """Whether ``extractor`` (a plugin's need not subclass `Extractor`) gives class logits."""
    return bool(getattr(extractor, "has_logits", False))


@torch.no_grad()
def extract(extractor: nn.Module, images: torch.Tensor, batch_size: int = 256,
            prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Features of uint8 ``images`` (N, C, H, W), batch by batch: (N, D) float64 on the CPU.
    ``prepare`` is applied to each batch first (a convention's resize)."""
    device = _device(extractor)
    chunks = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size]
        if prepare is not None:
            batch = prepare(batch)
        chunks.append(extractor(batch.to(device)).double().cpu())
    return torch.cat(chunks)


@torch.no_grad()
def logits(extractor: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Class logits of ``features`` (as `extract` gave them): (N, classes) float64 on the CPU."""
    return extractor.classify(features.to(_device(extractor), torch.float32)).double().cpu()


def _device(extractor: nn.Module) -> torch.device:
    return next(extractor.parameters(), torch.empty(0)).device


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """A hash of a state dict's names, shapes, dtypes and values (not of a file's bytes, which
    depend on how it was written), as ``sha256:<hex>``."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()
