"""Samplers: they take a prediction function and a starting noise and know nothing of networks,
labels or guidance (those are wrapped into the function once, in `gen_diffusion.guidance`), so
one trained network serves every sampler and a new sampler touches no model.

A Gaussian sampler's ``predict(x_t, t)`` returns the noise epsilon in x_t, ``t`` the (N,) tensor
of original 0-based timestep indices; a flow sampler's ``velocity(x_t, t)`` the velocity at
times ``t`` in [0, 1]. Every random number comes from ``generator``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gen_diffusion.schedules import GaussianSchedule

Predict = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _x0(schedule: GaussianSchedule, x: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
        clip: bool) -> torch.Tensor:
    x0 = schedule.predict_x0(x, t, eps)
    return x0.clamp(-1, 1) if clip else x0


def ancestral(predict: Predict, schedule: GaussianSchedule, noise: torch.Tensor, steps: int,
              generator: torch.Generator | None = None, clip: bool = True) -> torch.Tensor:
    """Ancestral sampling (Ho et al. 2020, Algorithm 2) from x_T = ``noise``: x_{t-1} ~
    N(mu-tilde(x_t, x0_hat), beta-tilde_t I), the posterior of Eq. 7 at the predicted x_0
    (clipped to [-1, 1] with ``clip``, as Ho et al.'s code does; the same mean as Eq. 11),
    with the fixed variance beta-tilde_t and no noise at the last step. With ``steps`` < T the
    schedule is respaced to evenly spaced timesteps (Nichol & Dhariwal 2021, section 4), which
    keeps abar at every visited step, so the same network samples in fewer steps."""
    sub, kept = schedule.respace(steps)
    x = noise
    for i in reversed(range(steps)):
        idx = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
        eps = predict(x, kept[i].expand(x.shape[0]).to(x.device))
        mean, var = sub.posterior_mean_variance(_x0(sub, x, idx, eps, clip), x, idx)
        if i > 0:
            z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = mean + var.sqrt() * z
        else:
            x = mean
    return x


def ddim(predict: Predict, schedule: GaussianSchedule, noise: torch.Tensor, steps: int,
         eta: float = 0.0, generator: torch.Generator | None = None,
         clip: bool = True) -> torch.Tensor:
    """DDIM (Song et al. 2021, Eq. 12) on ``steps`` evenly spaced timesteps tau:
    x_{tau_{i-1}} = sqrt(abar_{i-1}) x0_hat + sqrt(1 - abar_{i-1} - sigma_i^2) eps + sigma_i z,
    sigma_i = eta sqrt((1 - abar_{i-1}) / (1 - abar_i)) sqrt(1 - abar_i / abar_{i-1}) (Eq. 16).
    eta = 0 is deterministic given x_T (no draw from ``generator`` at all); eta = 1 is the
    ancestral sampler of the respaced schedule. With ``clip``, x0_hat is clipped to [-1, 1]
    and eps recomputed from it, as Nichol & Dhariwal's code does."""
    sub, kept = schedule.respace(steps)
    abar, abar_prev = sub.alphas_cumprod, sub.alphas_cumprod_prev
    x = noise
    for i in reversed(range(steps)):
        idx = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
        eps = predict(x, kept[i].expand(x.shape[0]).to(x.device))
        x0 = _x0(sub, x, idx, eps, clip)
        if clip:
            eps = sub.predict_eps(x, idx, x0)
        a, a_prev = abar[i].item(), abar_prev[i].item()
        sigma = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)) ** 0.5
        x = a_prev ** 0.5 * x0 + max(1 - a_prev - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0 and i > 0:
            z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + sigma * z
    return x


def euler(velocity: Predict, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Euler's method for dx/dt = v(x, t) from t = 0 (``noise``) to t = 1 in ``steps`` equal
    steps: one network call per step, error O(1 / steps)."""
    x, h = noise, 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * h, device=x.device)
        x = x + h * velocity(x, t)
    return x


def heun(velocity: Predict, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Heun's method (the explicit trapezoidal rule, second order) for the same ODE: an Euler
    predictor, then the average of the slopes at both ends of the step. Two network calls per
    step (the path's velocity is defined at t = 1, so the last step keeps its corrector);
    error O(1 / steps^2)."""
    x, h = noise, 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * h, device=x.device)
        v = velocity(x, t)
        v_next = velocity(x + h * v, t + h)
        x = x + h / 2 * (v + v_next)
    return x
