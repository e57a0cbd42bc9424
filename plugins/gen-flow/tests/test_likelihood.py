"""log_prob and iw_log_prob: determinism, the global RNG, gradients, eval mode, and what they
estimate."""

import math

import torch
from flow_models import build, fixed_batches, randomise

import gen
from gen.capabilities import capabilities, check_model_class
from gen.data.batch import Batch
from gen.evaluation.metrics.likelihood import negative_log_likelihood
from gen_flow.glow import Glow
from gen_flow.realnvp import RealNVP


def images(n=6, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, size, size), generator=g).float() / 127.5 - 1


def model_for(name):
    model = build(name, size=8, double=False)
    randomise(model.flow, 0.05)
    return model


def test_declares_a_lower_bound():
    for cls in (RealNVP, Glow):
        assert cls.likelihood == "lower-bound"
        assert "dequantisation" in cls.likelihood_estimator
        assert check_model_class(cls) == []
        assert {"sample", "temperature", "nll", "iw-nll"} <= set(capabilities(cls))


def test_log_prob_is_deterministic_and_leaves_the_global_rng_alone(name):
    model = model_for(name)
    x = images()
    state = torch.get_rng_state()
    a = model.log_prob(x)
    b = model.log_prob(x)
    c = model.iw_log_prob(x, samples=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == (6,) and torch.equal(a, b) and torch.isfinite(a).all()
    assert torch.equal(c, model.iw_log_prob(x, samples=3))


def test_log_prob_has_gradients_for_every_parameter(name):
    model = model_for(name)
    model.train(True)
    model.log_prob(images()).sum().backward()
    for key, p in model.flow.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), key
    assert any(p.grad.abs().sum() > 0 for p in model.flow.parameters())


def test_log_prob_in_eval_mode_without_grad(name):
    model = model_for(name)
    model.train(False)
    with torch.no_grad():
        lp = model.log_prob(images())
    assert not lp.requires_grad and torch.isfinite(lp).all()


def test_one_importance_sample_is_log_prob(name):
    model = model_for(name)
    x = images()
    assert torch.allclose(model.iw_log_prob(x, samples=1), model.log_prob(x).detach(),
                          atol=1e-4, rtol=0)


def test_gen_evaluates_the_nll_with_one_draw_unless_told(name):
    """default_iw_samples = 1: `gen evaluate --metrics nll` costs a pass per image (gen's 1,000
    draws took 13 minutes on a tiny realnvp) and is the one-draw bound flow papers report."""
    model = model_for(name)
    x = images()
    record = negative_log_likelihood(model, [Batch(x, None)], "nll")
    assert record["estimator"] == "importance-weighted, K=1"
    assert math.isclose(record["value"], -model.log_prob(x).double().mean().item(),
                        rel_tol=1e-5)
    told = negative_log_likelihood(model, [Batch(x, None)], "nll", iw_samples=4)
    assert told["estimator"] == "importance-weighted, K=4"


def test_importance_sampling_is_chunked_consistently(name):
    """The estimate does not depend on how many draws pass the flow at once."""
    model = model_for(name)
    x = images(3)
    whole = model.iw_log_prob(x, samples=8)
    model.iw_batch = 3  # one draw of the three images per chunk
    assert torch.allclose(model.iw_log_prob(x, samples=8), whole, atol=1e-4, rtol=0)


def test_importance_weighting_of_the_documented_draws(name):
    """iw_log_prob is log-mean-exp over the draws of a generator seeded 0, so it lies
    between their mean (the Jensen bound they estimate) and their maximum."""
    model = model_for(name)
    x = images(4)
    u = torch.rand((32, *x.shape), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        draws = torch.stack([model.log_prob_at(x, u[s]) for s in range(32)])
    iw = model.iw_log_prob(x, samples=32)
    assert torch.allclose(iw, draws.logsumexp(0) - math.log(32), atol=1e-4, rtol=0)
    assert (iw >= draws.mean(0) - 1e-4).all() and (iw <= draws.max(0).values + 1e-4).all()


def test_values_round_trip_the_data_grid(name):
    model = model_for(name)
    k = torch.arange(256, dtype=torch.float32).view(1, 1, 16, 16)
    x = k / 127.5 - 1
    assert torch.equal(model.values(x), k)
    assert torch.equal(model.images((k + 0.5) / 256), x)
    # 8-bit data: the bound includes -D log 256, so uniform noise images cost ~8 bits/dim
    lp = model.log_prob(images(8))
    bits = -lp.mean().item() / (64 * math.log(2))
    assert 7 < bits < 10


def test_training_lowers_the_bound(name):
    """On images of one random grey level each (+-4), a flow soon learns that pixels agree."""
    model = build(name, size=8, double=False, optimizer=gen.OptimizerSpec(lr=1e-2))
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    level = torch.randint(0, 256, (256, 1, 1, 1), generator=g)
    k = (level + torch.randint(-4, 5, (256, 1, 8, 8), generator=g)).clamp(0, 255)
    data = k.float() / 127.5 - 1
    batches = fixed_batches(data, 32)
    losses = [model.train_step(batches) for _ in range(40)]
    assert set(losses[0]) == {"nll", "bits_per_dim"}
    assert all(v.shape == () and not v.requires_grad for v in losses[0].values())
    first, last = losses[0]["bits_per_dim"], losses[-1]["bits_per_dim"]
    assert torch.allclose(losses[0]["nll"] / (64 * math.log(2)), first)
    assert last < first - 1
