"""The terms of DDPM's variational bound (Ho et al. 2020, Eq. 5), in nats, summed per image:

    -log p(x_0) <= L_T + sum_{t=2}^T L_{t-1} + L_0
    L_T     = KL(q(x_T | x_0) || N(0, I))
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))   (both Gaussian: closed form)
    L_0     = -log p(x_0 | x_1), a Gaussian discretised to the data's bins (Eq. 13).
"""

from __future__ import annotations

import torch


def normal_kl(mean1: torch.Tensor, var1: torch.Tensor, mean2: torch.Tensor,
              var2: torch.Tensor) -> torch.Tensor:
    """KL(N(mean1, var1) || N(mean2, var2)) elementwise, in nats."""
    return 0.5 * (torch.log(var2 / var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1)


def _log_mass(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """log(Phi(hi) - Phi(lo)) for lo < hi, stably in both tails: a bin above 0 is reflected
    below it (Phi(hi) - Phi(lo) = Phi(-lo) - Phi(-hi)), where log Phi has no cancellation."""
    flip = (lo + hi) > 0
    lo, hi = torch.where(flip, -hi, lo), torch.where(flip, -lo, hi)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log(-torch.expm1((log_lo - log_hi).clamp(max=-1e-12)))


def discretised_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor,
                                        std: torch.Tensor, bins: int) -> torch.Tensor:
    """log P(x) elementwise under N(mean, std^2) discretised to ``bins`` equal bins on [-1, 1]
    (Ho et al. 2020, Eq. 13): the mass of [x - 1/(bins - 1), x + 1/(bins - 1)] about each bin
    centre x = k / ((bins - 1) / 2) - 1, the edge bins extended to -inf and +inf, so the
    probabilities of the bins sum to 1. 256 bins for 8-bit images, 2 for binary ones."""
    half = 1.0 / (bins - 1)
    lo = torch.where(x <= -1 + half / 2, -torch.inf, (x - half - mean) / std)
    hi = torch.where(x >= 1 - half / 2, torch.inf, (x + half - mean) / std)
    return _log_mass(lo, hi)
