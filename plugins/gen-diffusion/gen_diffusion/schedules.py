"""Noise schedules (the Gaussian forward process of DDPM) and the straight probability path of
flow matching: the part of a diffusion model that neither the network nor the sampler owns.

Timesteps are 0-based indices: index i is the paper's t = i + 1, so ``betas[0]`` is beta_1 and
``alphas_cumprod[i]`` is abar_{i+1} = prod_{s <= i+1} (1 - beta_s) (Ho et al. 2020, section 2).
"""

from __future__ import annotations

import math

import torch


def linear_betas(timesteps: int = 1000, start: float = 1e-4, end: float = 0.02) -> torch.Tensor:
    """beta_t rising linearly from ``start`` to ``end`` (Ho et al. 2020, section 4: 1e-4 to
    0.02 over T = 1000). For another T the endpoints are scaled by 1000 / T, as Nichol &
    Dhariwal's code does, so the process still ends near pure noise (clipped at 0.999, so a
    short schedule's abar_T stays above 0)."""
    scale = 1000 / timesteps
    return torch.linspace(scale * start, scale * end, timesteps, dtype=torch.float64).clamp(
        max=0.999)


def cosine_betas(timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """The cosine schedule (Nichol & Dhariwal 2021, Eq. 17): abar(t) = f(t) / f(0) with
    f(t) = cos(((t / T + s) / (1 + s)) pi / 2)^2, and beta_t = 1 - abar_t / abar_{t-1} clipped
    at ``max_beta`` so the last steps stay finite."""
    t = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] as a (N, 1, 1, 1) tensor in ``like``'s dtype and device."""
    out = values.to(like.device)[t.to(like.device)]
    return out.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


class GaussianSchedule:
    """The forward process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I) of a beta
    schedule, with the closed forms the models and samplers need (float64 tables)."""

    def __init__(self, betas: torch.Tensor):
        self.betas = betas.to(torch.float64)
        self.timesteps = len(self.betas)
        self.alphas = 1 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, 0)
        self.alphas_cumprod_prev = torch.cat([self.betas.new_ones(1), self.alphas_cumprod[:-1]])
        # beta-tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t (Ho et al. 2020, Eq. 7); 0 at t = 1
        self.posterior_variance = (
            self.betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod))
        # Eq. 7's mean: coef_x0 x_0 + coef_xt x_t
        self.posterior_coef_x0 = (
            self.betas * self.alphas_cumprod_prev.sqrt() / (1 - self.alphas_cumprod))
        self.posterior_coef_xt = (
            (1 - self.alphas_cumprod_prev) * self.alphas.sqrt() / (1 - self.alphas_cumprod))

    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor):
        """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (Ho et al. 2020, Eq. 4)."""
        abar = _at(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0, (1 - abar).expand_as(x0)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """A draw of x_t ~ q(x_t | x_0), reparametrised by ``noise`` ~ N(0, I)."""
        abar = _at(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def posterior_mean_variance(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor):
        """q(x_{t-1} | x_t, x_0) = N(mu-tilde_t, beta-tilde_t I) (Ho et al. 2020, Eqs. 6-7)."""
        mean = (_at(self.posterior_coef_x0, t, xt) * x0 + _at(self.posterior_coef_xt, t, xt) * xt)
        return mean, _at(self.posterior_variance, t, xt).expand_as(xt)

    def predict_x0(self, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_0 from x_t and the noise in it: (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
        abar = _at(self.alphas_cumprod, t, xt)
        return (xt - (1 - abar).sqrt() * eps) / abar.sqrt()

    def predict_eps(self, xt: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """The noise in x_t given x_0, the inverse of `predict_x0`."""
        abar = _at(self.alphas_cumprod, t, xt)
        return (xt - abar.sqrt() * x0) / (1 - abar).sqrt()

    def respace(self, steps: int) -> tuple[GaussianSchedule, torch.Tensor]:
        """A schedule over ``steps`` evenly spaced timesteps S_1 < ... < S_K of this one (the
        last always T) with the same abar at each: beta_i = 1 - abar_{S_i} / abar_{S_{i-1}}
        (Nichol & Dhariwal 2021, section 4), and the original indices S (what the network is
        told). With steps = T this is the schedule itself."""
        if not 1 <= steps <= self.timesteps:
            raise ValueError(f"steps must be in 1..{self.timesteps} (got {steps})")
        if steps == 1:
            kept = torch.tensor([self.timesteps - 1])
        else:
            kept = torch.linspace(0, self.timesteps - 1, steps, dtype=torch.float64).round().long()
        abar = self.alphas_cumprod[kept]
        prev = torch.cat([abar.new_ones(1), abar[:-1]])
        return GaussianSchedule(1 - abar / prev), kept


class StraightPath:
    """The straight (rectified-flow / optimal-transport) probability path of flow matching:
    x_t = (1 - t) x_0 + t x_1 for t in [0, 1], from noise x_0 ~ N(0, I) at t = 0 to data x_1 at
    t = 1 (Liu et al. 2022, Eq. 1; Lipman et al. 2023, Eq. 20 with sigma_min = 0). Its velocity,
    the regression target, is d x_t / dt = x_1 - x_0; the sampler integrates the learned
    velocity from t = 0 to t = 1."""

    @staticmethod
    def _t(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return t.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def sample(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = self._t(t, x1)
        return (1 - t) * x0 + t * x1

    @staticmethod
    def velocity(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return x1 - x0
