"""The forward process's closed forms against the chain they summarise, the schedules against
hand-computed values, and respacing keeping abar."""

import math

import pytest
import torch

from gen_diffusion.schedules import GaussianSchedule, StraightPath, cosine_betas, linear_betas

SCHEDULES = {"linear": linear_betas(1000), "cosine": cosine_betas(1000)}


def test_linear_betas_are_ho_et_al():
    betas = linear_betas(1000)
    assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
    assert betas[499].item() == pytest.approx(1e-4 + 499 * (0.02 - 1e-4) / 999)
    abar = GaussianSchedule(betas).alphas_cumprod
    # abar_t = prod (1 - beta_s) by hand at t = 1, 2, 3
    b = [1e-4 + i * (0.02 - 1e-4) / 999 for i in range(3)]
    assert abar[:3].tolist() == pytest.approx(
        [1 - b[0], (1 - b[0]) * (1 - b[1]), (1 - b[0]) * (1 - b[1]) * (1 - b[2])])
    assert abar[-1].item() == pytest.approx(4.04e-5, rel=0.02)  # "x_T is nearly N(0, I)"


def test_cosine_betas_follow_nichol_and_dhariwal():
    T, s = 1000, 0.008
    abar = GaussianSchedule(cosine_betas(T)).alphas_cumprod

    def f(t):
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    for t in (1, 10, 250, 500, 900):
        assert abar[t - 1].item() == pytest.approx(f(t) / f(0), rel=1e-9)
    assert cosine_betas(T).max().item() == pytest.approx(0.999)  # clipped at the end


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_closed_form_q_matches_iterating_the_chain(name):
    """Iterating x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps gives mean
    sqrt(abar_t) x_0 and variance 1 - abar_t: exactly in the moments' recursion, and in
    distribution for 20,000 simulated chains (4 standard errors)."""
    schedule = GaussianSchedule(SCHEDULES[name])
    x0 = 0.7
    mean, var = torch.tensor(x0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    for beta in schedule.betas:
        mean, var = (1 - beta).sqrt() * mean, (1 - beta) * var + beta
    t = torch.tensor([999])
    m, v = schedule.q_mean_variance(torch.full((1, 1, 1, 1), x0, dtype=torch.float64), t)
    assert m.item() == pytest.approx(mean.item(), rel=1e-9)
    assert v.item() == pytest.approx(var.item(), rel=1e-9)

    g = torch.Generator().manual_seed(0)
    n, steps = 20_000, 300
    x = torch.full((n,), x0, dtype=torch.float64)
    for beta in schedule.betas[:steps]:
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(n, generator=g, dtype=x.dtype)
    abar = schedule.alphas_cumprod[steps - 1].item()
    closed = schedule.q_sample(torch.full((n, 1, 1, 1), x0, dtype=torch.float64),
                               torch.full((n,), steps - 1),
                               torch.randn(n, 1, 1, 1, generator=g, dtype=torch.float64))
    for sample in (x, closed.flatten()):
        assert abs(sample.mean().item() - math.sqrt(abar) * x0) < 4 * math.sqrt((1 - abar) / n)
        assert abs(sample.var().item() - (1 - abar)) < 4 * (1 - abar) * math.sqrt(2 / n)


def test_posterior_is_bayes_rule():
    """q(x_{t-1} | x_t, x_0) from Gaussian conditioning by hand: the prior
    x_{t-1} ~ N(sqrt(abar_{t-1}) x0, 1 - abar_{t-1}) times the likelihood
    x_t | x_{t-1} ~ N(sqrt(alpha_t) x_{t-1}, beta_t)."""
    schedule = GaussianSchedule(linear_betas(1000))
    x0 = torch.full((1, 1, 1, 1), -0.4, dtype=torch.float64)
    xt = torch.full((1, 1, 1, 1), 0.9, dtype=torch.float64)
    for i in (1, 10, 500, 999):
        a, beta = schedule.alphas[i].item(), schedule.betas[i].item()
        abar_prev = schedule.alphas_cumprod[i - 1].item()
        prior_var, prior_mean = 1 - abar_prev, math.sqrt(abar_prev) * -0.4
        precision = 1 / prior_var + a / beta
        mean = (prior_mean / prior_var + math.sqrt(a) * 0.9 / beta) / precision
        m, v = schedule.posterior_mean_variance(x0, xt, torch.tensor([i]))
        assert m.item() == pytest.approx(mean, rel=1e-9)
        assert v.item() == pytest.approx(1 / precision, rel=1e-9)


def test_respacing_keeps_abar_at_the_visited_steps():
    schedule = GaussianSchedule(linear_betas(1000))
    sub, kept = schedule.respace(50)
    assert len(kept) == 50 and kept[-1] == 999 and kept[0] == 0
    assert torch.allclose(sub.alphas_cumprod, schedule.alphas_cumprod[kept], rtol=1e-12)
    full, every = schedule.respace(1000)
    assert torch.equal(every, torch.arange(1000))
    assert torch.allclose(full.betas, schedule.betas, rtol=1e-9)
    with pytest.raises(ValueError):
        schedule.respace(1001)


def test_straight_path_and_its_velocity():
    x0, x1 = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    path = StraightPath()
    t = torch.tensor([0.0, 0.25, 1.0])
    xt = path.sample(x0, x1, t)
    assert torch.equal(xt[0], x0[0]) and torch.equal(xt[2], x1[2])
    assert torch.allclose(xt[1], 0.75 * x0[1] + 0.25 * x1[1])
    h = 1e-3
    finite = (path.sample(x0, x1, t + h) - path.sample(x0, x1, t)) / h
    assert torch.allclose(finite, path.velocity(x0, x1), atol=1e-3)
