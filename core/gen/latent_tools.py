"""The math of the sampling tools for models with a latent: the truncation trick and spherical
interpolation, on latent tensors (`gen.sampling` draws images with them).

A model *has a latent* when it implements ``latent(n, generator=None)`` -> z, a tensor whose
first dimension is n and whose elements are N(0, 1) (a GAN's z, a VAE's prior, a flow's base
noise), and ``generate(z, labels=None)`` -> images in [-1, 1] (docs/plugins.md). Nothing here
knows a model.

- **Truncation** (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image
  Synthesis", section 3.1): every element of z with |z| > T is drawn again, from the same
  generator, until none is left, so z follows N(0, I) truncated to [-T, T] elementwise. Lower
  T trades variety for typical, cleaner images. Only for a latent whose every element is i.i.d.
  standard normal (``truncatable_latent``): one-hot or uniform codes must not be resampled.
- **Spherical interpolation** (slerp; Shoemake 1985, White 2016 "Sampling Generative
  Networks"): in high dimensions N(0, I) puts almost all its mass near the sphere of radius
  sqrt(D), and the straight line between two draws cuts through the low-norm interior the
  model never saw in training; the great-circle arc keeps a typical norm.
"""

from __future__ import annotations

import math

import torch

from gen.sampling_options import SamplingOptions

# Normal draws per resampling round of `truncate`, at most: bounds its memory for a small T.
MAX_DRAWS = 1 << 22


def truncate(z: torch.Tensor, threshold: float,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """A copy of ``z`` (elements ~ N(0, 1)) with every element beyond ``threshold`` in absolute
    value drawn again from ``generator`` until none is left: the same generator state gives the
    same result. Each round draws several candidates per element still outside (about two
    accepted ones expected, at most `MAX_DRAWS` in all) and keeps the first inside: rejection
    sampling of the truncated normal done in bulk, so a small threshold costs more draws
    (about 1 / erf(T / sqrt 2) per element) but few rounds of Python."""
    threshold = SamplingOptions(truncation=threshold).truncation  # finite and > 0, or exit 2
    z = z.detach().clone()
    flat = z.view(-1)
    accept = math.erf(threshold / math.sqrt(2))  # P(|x| <= T) for x ~ N(0, 1)
    while True:
        outside = (flat.abs() > threshold).nonzero().flatten()
        k = outside.numel()
        if k == 0:
            return z
        per = max(1, min(math.ceil(2 / accept), MAX_DRAWS // k))
        draws = torch.randn(k, per, generator=generator, device=z.device, dtype=z.dtype)
        inside = draws.abs() <= threshold
        found = inside.any(1)
        first = inside.to(torch.uint8).argmax(1)  # the first candidate inside, per element
        chosen = draws[torch.arange(k, device=z.device), first]
        flat[outside[found]] = chosen[found]


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows: ``z0``, ``z1`` of shape (n, ...) and ``t`` (steps,)
    in [0, 1] give (n, steps, ...), point j of row i being

        sin((1 - t_j) w_i) / sin(w_i) z0_i + sin(t_j w_i) / sin(w_i) z1_i

    with w_i the angle between z0_i and z1_i (flattened); the straight line where they are
    (anti-)parallel or zero. t = 0 and t = 1 give z0 and z1 exactly; vectors of one norm keep
    it all the way. Coefficients are computed in float64."""
    if z0.shape != z1.shape:
        raise ValueError(f"slerp: shapes differ, {tuple(z0.shape)} and {tuple(z1.shape)}")
    n, shape = z0.shape[0], z0.shape[1:]
    a, b = z0.reshape(n, -1).double(), z1.reshape(n, -1).double()
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None]  # (n, 1); nan for a zero vector
    sin = torch.sin(omega)
    t = torch.as_tensor(t, dtype=torch.float64, device=a.device).reshape(1, -1)
    line = ~(sin.abs() >= 1e-6)  # parallel, anti-parallel or zero: no plane to turn in
    safe = torch.where(line, torch.ones_like(sin), sin)
    w0 = torch.where(line, 1 - t, torch.sin((1 - t) * omega) / safe)  # (n, steps)
    w1 = torch.where(line, t, torch.sin(t * omega) / safe)
    out = w0[..., None] * a[:, None] + w1[..., None] * b[:, None]
    return out.to(z0.dtype).reshape(n, t.shape[1], *shape)
