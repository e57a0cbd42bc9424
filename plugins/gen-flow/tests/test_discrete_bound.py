"""The likelihood is a bound on the probability of the discrete image.

Over all 16 binary 2x2 images (K = 2 bins per sub-pixel): the probability P(k) the model gives
each image is the mass of its density over bin k, which quadrature computes, and

    exp(E_u[log p((k + u) / K)] - D log K)  <=  P(k),       sum_k P(k) <= 1,

which is what log_prob estimates (Jensen). A single draw of log_prob is an unbiased estimate of
neither side in the exp domain (exp(one draw) estimates P(k) without bias, so its sum over k
fluctuates around sum_k P(k) and can exceed 1 for a model that puts nearly all its mass on
[0, 1)^D); the test therefore averages the draws log_prob makes for each image over many
copies of it. iw_log_prob is checked against the quadrature too. Both flows, freshly
initialised and briefly trained.
"""

import functools
import math

import pytest
import torch
from flow_models import all_binary_images, build, fixed_batches

FIELDS = {"realnvp": {"scales": 2}, "glow": {"levels": 1}}
DRAWS = 256
GRID = 6  # quadrature points per axis within each bin: 6^4 per image


def skewed_data(n: int = 2048) -> torch.Tensor:
    """Binary 2x2 images with independent pixels of different probabilities."""
    g = torch.Generator().manual_seed(0)
    on = torch.rand(n, 1, 2, 2, generator=g) < torch.tensor([0.9, 0.2, 0.7, 0.5]).view(1, 1, 2, 2)
    return on.float() * 2 - 1


@functools.cache
def model_for(name: str, trained: bool):
    """Float32 (float64 convolutions are slow on a CPU, and sums of probabilities need no
    more); the trained one is shared by the tests (they only read it)."""
    model = build(name, size=2, binary=True, double=False, **FIELDS[name])
    if trained:
        torch.manual_seed(0)
        batches = fixed_batches(skewed_data(), 64)
        first = model.train_step(batches)["nll"]
        for _ in range(60):
            last = model.train_step(batches)["nll"]
        assert last < first
    return model


def quadrature_probabilities(model, images: torch.Tensor) -> torch.Tensor:
    """P(k) for each image: the midpoint rule over its bin, GRID points per axis."""
    mid = (torch.arange(GRID, dtype=torch.float32) + 0.5) / GRID
    u = torch.cartesian_prod(mid, mid, mid, mid).view(-1, 1, 2, 2)
    with torch.no_grad():
        log_p = torch.stack([model.log_prob_at(x.expand_as(u), u) for x in images])
    return log_p.double().exp().mean(1)


@pytest.mark.parametrize("trained", [False, True], ids=["initialised", "trained"])
def test_bound_over_all_binary_images(name, trained):
    model = model_for(name, trained)
    images = all_binary_images()
    with torch.no_grad():
        # each copy of an image gets its own noise draw: DRAWS draws of the bound per image
        draws = model.log_prob(images.repeat(DRAWS, 1, 1, 1)).view(DRAWS, 16)
        iw = model.iw_log_prob(images, samples=DRAWS)
    draws, iw = draws.double(), iw.double()
    bound = draws.mean(0)  # E_u[log p((k + u) / K)] - D log K, per image
    probability = quadrature_probabilities(model, images)
    assert probability.sum() <= 1 + 1e-6, probability.sum()
    assert bound.exp().sum() <= 1 + 1e-6, bound.exp().sum()
    # per image, up to the Monte Carlo error of the mean of the draws (where the density is
    # nearly flat within a bin, Jensen's gap is smaller than that error)
    error = 4 * draws.std(0) / math.sqrt(DRAWS) + 1e-3
    assert (bound <= probability.log() + error).all(), (bound, probability.log())
    # the importance-weighted estimate sits between the one-draw bound and log P(k)...
    assert (iw >= bound - 1e-5).all()
    # ... and, with as many draws as here, close to log P(k) (in the exp domain it is an
    # unbiased estimate of P(k), the midpoint rule is accurate to ~1%)
    assert abs(iw.exp().sum() - probability.sum()) < 0.05 * probability.sum()


def test_trained_model_puts_its_mass_on_the_data(name):
    """Training raises the bound towards the data's entropy (a trained model is not
    trivially far below 1)."""
    model = model_for(name, trained=True)
    images = all_binary_images()
    probability = quadrature_probabilities(model, images)
    assert probability.sum() > 0.3
    # the most likely image of the data (pixels 1, -1, 1, 1 by 0.9, 0.2, 0.7, 0.5 on)
    # is among the two the model finds most probable
    top = probability.argsort(descending=True)[:2]
    likely = torch.tensor([1.0, -1.0, 1.0, 1.0]).view(1, 2, 2)
    assert any(torch.equal(images[i], likely) for i in top.tolist())


def test_one_draw_is_what_log_prob_returns(name):
    """log_prob is the documented one-draw bound: the noise of a generator seeded 0."""
    model = build(name, size=2, binary=True, **FIELDS[name])
    images = all_binary_images().double()
    u = torch.rand(images.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(model.log_prob(images), model.log_prob_at(images, u))
    dims = 4
    v = ((images > 0).double() + u) / 2
    assert torch.allclose(model.log_prob(images), model.log_density(v) - dims * math.log(2))
