"""The decoder likelihoods against hand computations, and pixel recovery from [-1, 1]."""

import math

import torch

from gen_vae.likelihoods import (
    Bernoulli,
    DiscretisedLogistic,
    log_prob_bins,
    to_binary,
    to_pixels,
)

VALUES = torch.arange(256, dtype=torch.float32)
CENTRES = VALUES / 127.5 - 1  # how gen.data.loader turns 8-bit pixels into a batch


def test_pixels_are_recovered_exactly_even_with_float_noise():
    x = CENTRES
    assert torch.equal(to_pixels(x), VALUES)
    noise = (torch.rand(256) - 0.5) * 2e-3  # well under half a bin (3.9e-3)
    assert torch.equal(to_pixels(x + noise), VALUES)
    assert torch.equal(DiscretisedLogistic.target(x + noise), x)


def test_binary_pixels_are_recovered():
    assert torch.equal(to_binary(torch.tensor([-1.0, 1.0, -1.0])), torch.tensor([0.0, 1.0, 0.0]))


def test_discretised_logistic_sums_to_one_over_the_256_values():
    means = torch.tensor([-1.5, -1.0, -0.3, 0.0, 0.5, 0.99, 1.0, 2.0])
    log_scales = torch.tensor([-7.0, -4.0, -2.0, 0.0, 2.0])
    m, s = torch.meshgrid(means, log_scales, indexing="ij")
    x = CENTRES.view(256, 1, 1)
    log_p = log_prob_bins(x, m, s)  # (256, means, scales)
    assert torch.isfinite(log_p).all()
    total = torch.logsumexp(log_p.double(), dim=0).exp()
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5), total


def test_discretised_logistic_is_a_cdf_difference():
    """Interior bins: F(x + bin/2) - F(x - bin/2), by hand in float64."""
    mean, log_scale = 0.1, -2.5
    s = math.exp(log_scale)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    for v in (1, 100, 140, 254):
        c = v / 127.5 - 1
        by_hand = math.log(sig((c + 1 / 255 - mean) / s) - sig((c - 1 / 255 - mean) / s))
        got = log_prob_bins(torch.tensor(c), torch.tensor(mean), torch.tensor(log_scale))
        assert math.isclose(got.item(), by_hand, rel_tol=1e-4, abs_tol=1e-4)
    edge = log_prob_bins(torch.tensor(-1.0), torch.tensor(mean), torch.tensor(log_scale))
    assert math.isclose(edge.item(), math.log(sig((-1 + 1 / 255 - mean) / s)), rel_tol=1e-5)


def test_discretised_logistic_sums_pixels_and_channels():
    params = torch.zeros(2, 6, 3, 3)  # 3 channels: means 0, log-scales 0
    target = torch.zeros(2, 3, 3, 3) + CENTRES[128]
    per_pixel = log_prob_bins(target[0, 0, 0, 0], torch.tensor(0.0), torch.tensor(0.0))
    got = DiscretisedLogistic.log_prob(params, target)
    assert got.shape == (2,)
    assert torch.allclose(got, per_pixel * 27)


def test_bernoulli_matches_a_hand_computation():
    logits = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]]])
    x = torch.tensor([[[[1.0, -1.0], [-1.0, 1.0]]]])  # on, off, off, on
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    by_hand = (math.log(sig(0.5)) + math.log(1 - sig(-1.0)) + math.log(1 - sig(2.0))
               + math.log(sig(0.0)))
    got = Bernoulli.log_prob(logits, Bernoulli.target(x))
    assert got.shape == (1,)
    assert math.isclose(got.item(), by_hand, rel_tol=1e-6)


def test_means_are_images_in_range():
    assert torch.allclose(Bernoulli.mean(torch.tensor([0.0, 100.0, -100.0])),
                          torch.tensor([0.0, 1.0, -1.0]))
    params = torch.tensor([[[[3.0]], [[0.0]]]])  # mean 3, log-scale 0
    assert DiscretisedLogistic.mean(params).item() == 1.0


def test_discretised_logistic_draws_follow_its_bin_probabilities():
    """20,000 draws of one sub-pixel (mean 0.98, near the top edge so the tail bin matters):
    the frequency of every bin is within 5 standard errors of exp(log_prob_bins)."""
    params = torch.tensor([0.98, -3.5]).view(1, 2, 1, 1).expand(20_000, -1, -1, -1)
    draws = DiscretisedLogistic.sample(params, torch.Generator().manual_seed(0)).flatten()
    assert torch.equal(draws, DiscretisedLogistic.target(draws)), "draws are bin centres"
    counts = torch.bincount(to_pixels(draws).long(), minlength=256).double() / draws.numel()
    p = log_prob_bins(CENTRES, torch.tensor(0.98), torch.tensor(-3.5)).double().exp()
    se = (p * (1 - p) / draws.numel()).sqrt()
    assert ((counts - p).abs() <= 5 * se + 1e-4).all()
    assert counts[255] > 0.1, "the edge bin takes the upper tail"


def test_bernoulli_draws_are_minus_one_or_one_with_the_right_frequency():
    logits = torch.tensor([-2.0, 0.0, 3.0]).expand(20_000, -1)
    draws = Bernoulli.sample(logits, torch.Generator().manual_seed(0))
    assert set(draws.unique().tolist()) == {-1.0, 1.0}
    on = (draws > 0).double().mean(0)
    assert torch.allclose(on, torch.sigmoid(logits[0]).double(), atol=0.015)
