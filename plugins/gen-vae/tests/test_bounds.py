"""The Gaussian KL and the chunked log-mean-exp against Monte-Carlo and direct computations."""

import math

import pytest
import torch

from gen_vae import bounds


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    """KL(q || N(0, I)) = E_q[log q(z) - log p(z)]; 200,000 draws, within 4 standard errors."""
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.3, 0.1, -0.7]], dtype=torch.float64)
    log_var = torch.tensor([[0.0, 0.0, 0.0], [-1.0, 0.5, -2.0], [1.0, -0.3, 0.2]],
                           dtype=torch.float64)
    eps = torch.randn(200_000, *mu.shape, generator=g, dtype=torch.float64)
    z = bounds.reparameterise(mu, log_var, eps)
    terms = bounds.normal_log_prob(z, mu, log_var) - bounds.standard_normal_log_prob(z)
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(terms.shape[0])
    exact = bounds.kl_to_standard_normal(mu, log_var)
    assert exact[0].item() == 0.0
    assert ((mc - exact).abs() < 4 * se + 1e-9).all(), (mc, exact, se)


def test_normal_log_prob_matches_torch_distributions():
    mu, log_var, z = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    ref = torch.distributions.Normal(mu, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    assert torch.allclose(bounds.normal_log_prob(z, mu, log_var), ref, atol=1e-5)
    ref0 = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert torch.allclose(bounds.standard_normal_log_prob(z), ref0, atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 3, 7, 20, 100])
def test_chunked_log_mean_exp_equals_one_logsumexp(chunk):
    all_weights = torch.randn(20, 5, dtype=torch.float64) * 50  # wide range: needs logsumexp
    given = []

    def log_weights(c):
        start = sum(given)
        given.append(c)
        return all_weights[start : start + c]

    got = bounds.chunked_log_mean_exp(log_weights, 20, chunk)
    assert sum(given) == 20 and max(given) <= chunk
    expected = torch.logsumexp(all_weights, 0) - math.log(20)
    assert torch.allclose(got, expected, rtol=0, atol=1e-9)


def test_reparameterised_sample_carries_gradients_to_mu_and_log_var():
    mu = torch.zeros(3, requires_grad=True)
    log_var = torch.zeros(3, requires_grad=True)
    bounds.reparameterise(mu, log_var, torch.ones(3)).sum().backward()
    assert torch.equal(mu.grad, torch.ones(3))
    assert torch.allclose(log_var.grad, torch.full((3,), 0.5))
