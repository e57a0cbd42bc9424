"""What people train a VAE to look at: features, reconstructions and latent interpolations.

Everything here needs ``encode`` (and ``decode``, for images); other models get an error naming
the method they lack (`gen.capabilities.require`) rather than an AttributeError. What the model
returns is checked (`gen.plugin_code.checked`) before it is written or decoded.
"""

from __future__ import annotations

import torch

from gen.capabilities import require
from gen.data.datasets import ImageSet
from gen.data.loader import sequential_batches
from gen.model import Model
from gen.plugin_code import checked
from gen.sampling import INTERPOLATION_STEPS, check_images


@torch.no_grad()
def encode_all(model: Model, data: ImageSet, batch_size: int = 512) -> torch.Tensor:
    """Posterior means of every image of ``data``, (N, latent_dim), on the CPU."""
    require(model, "encode", "encoding")
    chunks = []
    for images, labels in sequential_batches(data, batch_size, model.device):
        chunks.append(_encode(model, images, labels if model.conditional else None).cpu())
    return torch.cat(chunks)


def _encode(model: Model, images: torch.Tensor, labels) -> torch.Tensor:
    n = images.shape[0]
    return checked(model, f"encode({n} images)", model.encode(images, labels), (n, ...))


def _decode(model: Model, z: torch.Tensor, labels) -> torch.Tensor:
    n = z.shape[0]
    return check_images(model, f"decode({n} latents)", model.decode(z, labels), n)


def pick(data: ImageSet, n: int, seed: int, device: torch.device):
    """``n`` held-out images (and labels) chosen by ``seed``."""
    order = torch.randperm(data.images.shape[0], generator=torch.Generator().manual_seed(seed))
    idx = order[:n]
    images = data.images[idx].to(device).float().div(127.5).sub(1.0)
    labels = None if data.labels is None else data.labels[idx].to(device)
    return images, labels


@torch.no_grad()
def reconstruction_grid(model: Model, images: torch.Tensor, labels, per_row: int = 8):
    """Rows of originals, each followed by the row of their reconstructions."""
    require(model, "reconstruct", "--reconstruct")
    y = labels if model.conditional else None
    recon = _decode(model, _encode(model, images, y), y)
    rows = []
    for start in range(0, images.shape[0], per_row):
        rows += [images[start : start + per_row], recon[start : start + per_row]]
    return torch.cat(rows), per_row


@torch.no_grad()
def interpolation_grid(model: Model, images: torch.Tensor, labels,
                       steps: int = INTERPOLATION_STEPS):
    """One row per pair of images: decoded points on the straight line between their latent
    means, from the first image's latent (left) to the second's (right)."""
    require(model, "reconstruct", "--interpolate")
    pairs = images.shape[0] // 2
    y = labels if model.conditional else None
    z = _encode(model, images[: 2 * pairs], None if y is None else y[: 2 * pairs])
    t = torch.linspace(0, 1, steps, device=z.device).view(1, steps, 1)
    line = (1 - t) * z[:pairs, None] + t * z[pairs:, None]  # (pairs, steps, D)
    y_line = None if y is None else y[:pairs].repeat_interleave(steps)
    return _decode(model, line.flatten(0, 1), y_line), steps
