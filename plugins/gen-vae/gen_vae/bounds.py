"""The Gaussian pieces of the ELBO and the chunked log-mean-exp of the importance-weighted bound.

The encoder gives q(z|x) = N(mu, diag(exp(log_var))); the prior is p(z) = N(0, I).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

LOG_2PI = math.log(2 * math.pi)


def kl_to_standard_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) in closed form, summed over latent dimensions: shape (N,).

    Kingma & Welling 2014, appendix B: -KL = 1/2 sum(1 + log var - mu^2 - var)."""
    return 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)


def normal_log_prob(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(log_var))), summed over the last dimension."""
    return -0.5 * (LOG_2PI + log_var + (z - mu).pow(2) * torch.exp(-log_var)).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def reparameterise(
    mu: torch.Tensor, log_var: torch.Tensor, eps: torch.Tensor | None = None
) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I) (Kingma & Welling 2014, eq. 10): a sample of
    q(z|x) that is a differentiable function of the encoder's outputs."""
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + eps * torch.exp(0.5 * log_var)


def chunked_log_mean_exp(
    log_weights: Callable[[int], torch.Tensor], total: int, chunk: int
) -> torch.Tensor:
    """log (1/K sum_k w_k) for K = ``total`` log-weights drawn ``chunk`` at a time.

    ``log_weights(c)`` returns a fresh (c, N) tensor of log-weights. Only one chunk lives in
    memory at once; the logsumexp is accumulated across chunks with logaddexp, which is as exact
    as one logsumexp over all K (Burda et al. 2016, eq. 8, evaluated stably)."""
    if total < 1 or chunk < 1:
        raise ValueError(f"need at least one sample and a chunk of one (got {total}, {chunk})")
    acc = None
    done = 0
    while done < total:
        c = min(chunk, total - done)
        lse = torch.logsumexp(log_weights(c), dim=0)
        acc = lse if acc is None else torch.logaddexp(acc, lse)
        done += c
    return acc - math.log(total)
