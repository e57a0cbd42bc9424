"""FID conventions: how stored uint8 images reach an extractor whose network takes one size
(the Inception's 299x299). The resize alone moves FIDs by several points (Parmar et al. 2022),
so every quality record names the convention it was measured with (``fid_convention``).

- ``torch-fidelity`` (gen's default, and what it has always done): the uint8 images are handed
  over as stored and the extractor resizes them itself; torch-fidelity's Inception does so with
  TensorFlow 1.x's bilinear resize, as the original FID code did (Heusel et al. 2017).
- ``clean-fid`` (Parmar et al. 2022): gen resizes each image to the extractor's input size
  with PIL's bicubic filter, channel by channel on float values, clips to [0, 255] without
  rounding, and hands the extractor float32 images; clean-fid's own
  ``make_resizer("PIL", False, "bicubic", (299, 299))``, written here so clean-fid is never a
  runtime dependency.

An extractor that takes any size (``input_size`` None, e.g. ``lenet``) resizes nothing, so the
conventions cannot differ for it and only the default is accepted. Imports no torch until
images are resized (the CLI offers the names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gen.errors import UsageError

if TYPE_CHECKING:
    import torch

CONVENTIONS = ("torch-fidelity", "clean-fid")
DEFAULT_CONVENTION = "torch-fidelity"


def check_convention(convention: str, extractor: torch.nn.Module | None = None) -> None:
    """Refuse an unknown convention, or one that changes nothing for ``extractor``."""
    if convention not in CONVENTIONS:
        raise UsageError(f"--fid-convention: unknown convention {convention!r}; known: "
                         f"{', '.join(CONVENTIONS)}")
    if extractor is not None and convention != DEFAULT_CONVENTION and input_size(extractor) is None:
        raise UsageError(
            f"--fid-convention {convention}: extractor {extractor.name!r} takes images of any "
            "size, so there is no resize for a convention to decide; use an extractor with a "
            "fixed input size (inception) or leave the option out")


def input_size(extractor: torch.nn.Module) -> int | None:
    """The image size ``extractor``'s network takes; None where it takes any."""
    return getattr(extractor, "input_size", None)


def preparer(convention: str, extractor: torch.nn.Module
             ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """What a batch of uint8 images goes through before ``extractor``; None: nothing."""
    size = input_size(extractor)
    if convention == "clean-fid" and size is not None:
        return lambda images: clean_resize(images, size)
    return None


def clean_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """clean-fid's resize of uint8 ``images`` (N, C, H, W) to ``size``: float32 (N, C, size,
    size) in [0, 255], each channel resized by PIL's bicubic filter in mode 'F'."""
    import numpy as np
    import torch
    from PIL import Image

    array = images.cpu().numpy().astype(np.float32)
    out = np.empty((*array.shape[:2], size, size), dtype=np.float32)
    for i, image in enumerate(array):
        for c, channel in enumerate(image):
            resized = Image.fromarray(channel).resize((size, size), Image.BICUBIC)
            out[i, c] = np.asarray(resized).clip(0, 255)
    return torch.from_numpy(out).to(images.device)
