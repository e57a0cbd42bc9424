"""Tiny flows built directly (no run directory), for the unit tests.

Imported by the test modules as ``flow_models`` (a name no other test folder uses)."""

from __future__ import annotations

import itertools

import torch

import gen
from gen_flow.glow import Glow
from gen_flow.realnvp import RealNVP
from gen_flow.specs import GlowSpec, RealNVPSpec

TINY = {
    "realnvp": (RealNVP, RealNVPSpec(scales=2, hidden=8, blocks=1, warmup_steps=0)),
    "glow": (Glow, GlowSpec(levels=2, steps=2, hidden=8, warmup_steps=0)),
}
NAMES = list(TINY)


def data_info(size: int = 4, channels: int = 1, binary: bool = False) -> gen.DataInfo:
    return gen.DataInfo(name="test", channels=channels, image_size=size, num_classes=None,
                        num_images=100, binary=binary)


def build(name: str, size: int = 4, channels: int = 1, binary: bool = False, seed: int = 0,
          double: bool = True, **spec_fields):
    """A tiny ``name`` model with fixed initial weights, in float64 unless ``double=False``."""
    cls, spec = TINY[name]
    torch.manual_seed(seed)
    model = cls(spec.model_copy(update=spec_fields), data_info(size, channels, binary))
    if double:
        model.flow.double()
    return model


@torch.no_grad()
def randomise(module: torch.nn.Module, scale: float = 0.3, seed: int = 1) -> None:
    """Perturb every parameter, so zero-initialised couplings and priors, identity actnorms
    and unit coupling scales all do something."""
    g = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def all_binary_images(size: int = 2, channels: int = 1) -> torch.Tensor:
    """Every binary image of the shape, values -1/1, shape (2^D, C, size, size)."""
    d = channels * size * size
    bits = torch.tensor(list(itertools.product([0.0, 1.0], repeat=d)))
    return (bits * 2 - 1).view(-1, channels, size, size)


def fixed_batches(images: torch.Tensor, batch_size: int, seed: int = 0):
    """A `NextBatch`: random batches (with replacement) of ``images``, from its own RNG."""
    g = torch.Generator().manual_seed(seed)

    def next_batch():
        index = torch.randint(0, images.shape[0], (batch_size,), generator=g)
        return images[index], None

    return next_batch
