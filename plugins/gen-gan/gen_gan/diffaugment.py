"""DiffAugment: Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient
GAN Training" (NeurIPS 2020).

With little data the discriminator memorises the training images and the generator stops
learning. Augmenting only the real images would teach the generator the augmented distribution;
DiffAugment instead applies the same random, differentiable transformation T to real AND fake
images every time the discriminator sees them, in the discriminator's update and in the
generator's (Figure 4: D(T(x)) and D(T(G(z)))), so the generator's gradient flows
back through T. The policies of section 3 and the authors' reference code, on images in [-1, 1]:

- ``color``: brightness + U(-0.5, 0.5); saturation, each pixel's deviation from the mean of its
  channels times U(0, 2); contrast, each image's deviation from its mean times U(0.5, 1.5).
- ``translation``: an integer shift of up to 1/8 of the image size along each axis, zero fill.
- ``cutout`` (DeVries & Taylor 2017): zero a square of half the image size whose centre is
  uniform over the image (so a square at a border is clipped by it, as in the reference).

Every factor is drawn per image from torch's default generator on the images' device (the
training RNG that checkpoints save and restore), so a resumed run repeats the same draws.
No clamping: results may leave [-1, 1], as in the reference, and stay differentiable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from gen_gan.specs import DIFFAUGMENT_POLICIES


def diffaugment(x: torch.Tensor, policies: Sequence[str]) -> torch.Tensor:
    """``x`` (N, C, H, W) augmented by each policy in turn, with fresh random draws per image.
    With no policies it is ``x`` itself: no operation, no random draw."""
    for policy in policies:
        if policy not in _OPS:
            raise ValueError(f"unknown DiffAugment policy {policy!r}; allowed: "
                             f"{', '.join(DIFFAUGMENT_POLICIES)}")
        for op in _OPS[policy]:
            x = op(x)
    return x


def _per_image(x: torch.Tensor) -> torch.Tensor:
    """U[0, 1) per image, shape (N, 1, 1, 1), from the default generator of x's device."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (_per_image(x) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    grey = x.mean(dim=1, keepdim=True)
    return (x - grey) * (_per_image(x) * 2) + grey


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_image(x) + 0.5) + mean


def translation(x: torch.Tensor, fraction: float = 1 / 8) -> torch.Tensor:
    """out[i, j] = x[i - dy, j - dx] (zero outside x), with integer dy, dx uniform in
    [-s, s], s = int(size * fraction), per image. A gather from the zero-padded image: each input
    pixel feeds at most one output pixel, so its backward is exact and order-independent."""
    n, _, h, w = x.shape
    sh, sw = int(h * fraction), int(w * fraction)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = torch.arange(h, device=x.device).view(1, h, 1) + sh - dy  # (N, H, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + sw - dx  # (N, 1, W)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    # Advanced indices around a slice put their broadcast shape (N, H, W) first: (N, H, W, C).
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, fraction: float = 1 / 2) -> torch.Tensor:
    """x times a mask that is zero on a (H * fraction) x (W * fraction) square per image whose
    centre is uniform over the image (clipped at the borders), one elsewhere."""
    n, _, h, w = x.shape
    ch, cw = int(h * fraction), int(w * fraction)
    # The reference's centre range: [0, size] for an even square, [0, size - 1] for an odd one.
    top = torch.randint(0, h + 1 - ch % 2, (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + 1 - cw % 2, (n, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_OPS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}
assert set(_OPS) == set(DIFFAUGMENT_POLICIES)
