"""Writing images: PNG grids for people, .npz arrays for other tools. Both atomic."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gen.fileio import atomic_write


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 in [0, 255], on the CPU (uint8 images pass as they are)."""
    if images.dtype == torch.uint8:
        return images.cpu()
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """A PNG grid of [-1, 1] (or uint8) images, ``nrow`` per row (default: as square as
    possible)."""
    from torchvision.utils import save_image

    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = to_uint8(images).float() / 255
    return atomic_write(path, lambda tmp: save_image(grid, tmp, nrow=nrow, padding=2,
                                                     format="png"))


def save_npz(images: torch.Tensor, path: Path, labels: torch.Tensor | None = None) -> Path:
    """``images`` ([-1, 1] or uint8) as uint8 (N, C, H, W) under key ``images``, plus
    ``labels`` when given."""
    import numpy as np

    arrays = {"images": to_uint8(images).numpy()}
    if labels is not None:
        arrays["labels"] = labels.detach().cpu().numpy()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return atomic_write(path, write)
