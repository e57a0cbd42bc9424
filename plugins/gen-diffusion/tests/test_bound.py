"""The variational bound's pieces against torch.distributions and hand computations, and the
whole bound as DDPM.log_prob adds it up."""

import itertools
import math

import pytest
import torch
from diffusion_helpers import data_info, ddpm
from torch.distributions import Normal, kl_divergence

from gen_diffusion.bound import discretised_gaussian_log_likelihood, normal_kl


def test_normal_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(100, generator=g), torch.randn(100, generator=g)
    v1, v2 = torch.rand(100, generator=g) + 0.01, torch.rand(100, generator=g) + 0.01
    expected = kl_divergence(Normal(m1, v1.sqrt()), Normal(m2, v2.sqrt()))
    assert torch.allclose(normal_kl(m1, v1, m2, v2), expected, atol=1e-5)


def test_discretised_decoder_by_hand_with_normal_cdfs():
    """Ho et al. 2020, Eq. 13 for 8-bit images: CDF differences over [x - 1/255, x + 1/255],
    the edge bins open to -inf and +inf (in float64, where 1 - CDF keeps its digits)."""
    d = torch.float64
    mean, std = torch.tensor([0.1, -0.3, 0.95], dtype=d), torch.tensor([0.05, 0.2, 0.01], dtype=d)
    x = torch.tensor([0.1 + 2 / 255, -1.0, 1.0], dtype=d)
    normal = Normal(mean, std)
    by_hand = torch.stack([
        normal.cdf(x[0] + 1 / 255)[0] - normal.cdf(x[0] - 1 / 255)[0],
        normal.cdf(torch.tensor(-1 + 1 / 255, dtype=d))[1],
        1 - normal.cdf(torch.tensor(1 - 1 / 255, dtype=d))[2],
    ]).log()
    got = discretised_gaussian_log_likelihood(x, mean, std, bins=256)
    assert torch.allclose(got, by_hand, rtol=1e-9)


@pytest.mark.parametrize("bins", [2, 256])
def test_decoder_probabilities_sum_to_one_over_the_bins(bins):
    centres = torch.arange(bins, dtype=torch.float64) / ((bins - 1) / 2) - 1
    for mean, std in [(0.0, 0.3), (0.9, 0.01), (-3.0, 1.0), (0.5, 1e-4)]:
        logp = discretised_gaussian_log_likelihood(
            centres, torch.full_like(centres, mean), torch.full_like(centres, std), bins)
        assert logp.exp().sum().item() == pytest.approx(1.0, abs=1e-9)


def test_decoder_is_stable_far_in_the_tails():
    """A bin 40 standard deviations away still has a finite log-probability (no log 0)."""
    x, mean = torch.tensor([0.5, -0.5]), torch.tensor([-0.3, 0.3])
    logp = discretised_gaussian_log_likelihood(x, mean, torch.tensor([0.02, 0.02]), 256)
    assert torch.isfinite(logp).all() and (logp < -700).all()


def test_each_kl_term_against_torch_distributions():
    """L_{t-1} of DDPM.bound_terms equals kl_divergence(q(x_{t-1} | x_t, x_0),
    p(x_{t-1} | x_t)) summed over pixels, with the model's mean from its own prediction."""
    model = ddpm(timesteps=20)
    x0 = torch.rand(3, 1, 8, 8) * 2 - 1
    t = torch.tensor([1, 7, 19])
    xt = model.schedule.q_sample(x0, t, torch.randn_like(x0))
    with torch.no_grad():
        terms = model.bound_terms(x0, t, xt, None)
        eps = model.unet(xt, t)
    x0_hat = model.schedule.predict_x0(xt, t, eps).clamp(-1, 1)
    p_mean, _ = model.schedule.posterior_mean_variance(x0_hat, xt, t)
    q_mean, q_var = model.schedule.posterior_mean_variance(x0, xt, t)
    p_std = model.model_variance[t].float().sqrt().view(-1, 1, 1, 1).expand_as(xt)
    expected = kl_divergence(Normal(q_mean, q_var.sqrt()), Normal(p_mean, p_std)).flatten(1).sum(1)
    assert torch.allclose(terms, expected, rtol=1e-4, atol=1e-4)


def test_first_term_is_the_discretised_decoder_and_log_prob_adds_all_terms():
    model = ddpm(timesteps=6)
    x = (torch.randint(0, 256, (2, 1, 8, 8)) / 127.5 - 1).float()
    t0 = torch.zeros(2, dtype=torch.long)
    xt = model.schedule.q_sample(x, t0, torch.randn_like(x))
    with torch.no_grad():
        decoder = model.bound_terms(x, t0, xt, None)
        eps = model.unet(xt, t0)
    mean, _ = model.schedule.posterior_mean_variance(
        model.schedule.predict_x0(xt, t0, eps).clamp(-1, 1), xt, t0)
    std = model.model_variance[1].sqrt().item()  # beta-tilde_2 at t = 1
    # the reference in float64: a bin far in the tail is a difference of two nearly equal CDFs,
    # which float32 cancels (a random draw once put one there and the reference was off by 0.3)
    normal, x64 = Normal(mean.double(), std), x.double()
    hi = torch.where(x64 >= 1, torch.tensor(1.0, dtype=torch.float64), normal.cdf(x64 + 1 / 255))
    lo = torch.where(x64 <= -1, torch.tensor(0.0, dtype=torch.float64), normal.cdf(x64 - 1 / 255))
    assert torch.allclose(decoder.double(), -(hi - lo).log().flatten(1).sum(1), rtol=1e-4)

    # log_prob = -(L_T + sum of the T terms at x_t drawn from a generator seeded 0)
    g = torch.Generator().manual_seed(0)
    total = model.prior_term(x)
    ts = torch.arange(6).repeat_interleave(2)
    x0s = x.repeat(6, 1, 1, 1)
    xts = model.schedule.q_sample(x0s, ts, torch.randn(x0s.shape, generator=g))
    with torch.no_grad():
        total = total + model.bound_terms(x0s, ts, xts, None).view(6, 2).sum(0)
        assert torch.allclose(model.log_prob(x), -total, rtol=1e-5)
        model.bound_batch = 2  # one timestep per network call: the same value
        assert torch.allclose(model.log_prob(x), -total, rtol=1e-5)


def test_prior_term_is_the_kl_to_the_standard_normal():
    model = ddpm(timesteps=10)
    x = torch.full((1, 1, 8, 8), 0.5)
    abar = model.schedule.alphas_cumprod[-1].item()
    expected = kl_divergence(Normal(math.sqrt(abar) * 0.5, math.sqrt(1 - abar)),
                             Normal(0.0, 1.0)).item() * 64
    assert model.prior_term(x).item() == pytest.approx(expected, rel=1e-5)


def test_trained_bound_stays_below_one_over_all_binary_2x2_images():
    """After fitting two of the 2x2 binary images, the bound puts more mass on them than on
    the other 14 together and still sums to at most 1 over all 16 (a bound, not an
    overestimate)."""
    torch.manual_seed(0)
    model = ddpm(timesteps=20, info=data_info(2, binary=True), width=8, mults=[1, 2],
                 lr=3e-3)
    grid = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=4))).view(16, 1, 2, 2)
    favoured = grid[[0, 15]]
    for _ in range(150):
        model.train_step(lambda: (favoured.repeat(8, 1, 1, 1), None))
    model.train(False)
    with torch.no_grad():
        p = model.log_prob(grid).double().exp()
    assert p.sum().item() <= 1 + 1e-6
    assert p[[0, 15]].sum() > 100 * p[1:15].sum()
