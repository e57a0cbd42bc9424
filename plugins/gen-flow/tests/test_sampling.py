"""Sampling: shapes and values, the temperature, and randomness from the caller's generator
only."""

import pytest
import torch
from flow_models import build, randomise

import gen


def model_for(name, **fields):
    model = build(name, size=8, double=False, **fields)
    randomise(model.flow, 0.05)
    return model


def test_samples_lie_on_the_data_grid(name):
    model = model_for(name)
    x = model.sample(6, generator=torch.Generator().manual_seed(0))
    assert x.shape == (6, 1, 8, 8) and x.dtype == torch.float32
    k = ((x + 1) * 127.5).round()
    assert torch.equal(x, k / 127.5 - 1) and k.min() >= 0 and k.max() <= 255
    binary = build(name, size=8, binary=True, double=False)
    xb = binary.sample(6, generator=torch.Generator().manual_seed(0))
    assert set(xb.unique().tolist()) <= {-1.0, 1.0}


def test_sample_restores_training_mode_and_needs_no_grad(name):
    model = model_for(name)
    model.train(True)
    with torch.enable_grad():
        x = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert not x.requires_grad and model.flow.training


def test_same_generator_same_samples(name):
    model = model_for(name)
    a = model.sample(4, generator=torch.Generator().manual_seed(3), temperature=0.7)
    b = model.sample(4, generator=torch.Generator().manual_seed(3), temperature=0.7)
    assert torch.equal(a, b)


def test_sampling_with_a_generator_leaves_the_global_rng_alone(name):
    model = model_for(name)
    state = torch.get_rng_state()
    model.sample(4, generator=torch.Generator().manual_seed(0))
    model.sample(4, generator=torch.Generator().manual_seed(0), temperature=0.0)
    assert torch.equal(torch.get_rng_state(), state)


def test_sampling_without_a_generator_uses_the_global_rng(name):
    model = model_for(name)
    torch.manual_seed(5)
    a = model.sample(3)
    torch.manual_seed(5)
    assert torch.equal(model.sample(3), a)


@pytest.mark.parametrize(("name", "prior"), [("realnvp", "standard"), ("glow", "standard"),
                                           ("glow", "learned")])
def test_temperature_zero_is_the_image_of_the_prior_mean(name, prior):
    """T = 0: every sample is the flow's image of the priors' means, z = 0 for standard-normal
    parts (RealNVP everywhere, Glow's top, and its splits with split_prior="standard")."""
    fields = {"split_prior": prior} if name == "glow" else {}
    model = model_for(name, **fields)
    randomise(model.flow, 0.1)  # learned priors with non-zero means
    x = model.sample(5, generator=torch.Generator().manual_seed(0), temperature=0.0)
    assert (x == x[:1]).all()
    zeros = [torch.zeros(1, *shape) for shape in model.flow.shapes]
    if prior == "standard":
        mode = model.flow.decode(zeros)  # the inverse of the flow at z = 0
    else:  # each factored-out part at its prior's mean given the part above
        mode = model.flow.decode_noise(zeros, 0.0)
        assert not torch.equal(mode, model.flow.decode(zeros))
    assert torch.isfinite(mode).all()
    assert torch.equal(x[:1], model.images(model.postprocess(mode)))


def test_temperature_scales_the_spread(name):
    model = model_for(name)

    def spread(t):
        v = model.postprocess(model.flow.decode_noise(
            model.flow.noise(200, torch.Generator().manual_seed(0), model.device, model.dtype),
            t))
        return v.std(0).mean().item()

    assert spread(0.0) == 0.0
    assert 0 < spread(0.3) < spread(0.7) < spread(1.0)
    images = {t: model.sample(200, generator=torch.Generator().manual_seed(0), temperature=t)
              for t in (0.0, 1.0)}
    assert images[0.0].std(0).max() == 0 and images[1.0].std(0).mean() > 0.05


@pytest.mark.parametrize("temperature", [-0.5, float("nan"), float("inf")])
def test_bad_temperature_is_refused(temperature):
    model = model_for("glow")
    with pytest.raises(gen.UsageError, match="temperature"):
        model.sample(2, temperature=temperature)


def test_overflowing_inverse_warns_and_stays_in_range():
    model = model_for("glow")
    with torch.no_grad():
        model.flow.splits[0].prior.logs.fill_(30.0)  # exp(3 * 30) std: overflows at once
        model.flow.splits[0].prior.conv.bias.fill_(1.0)
    with pytest.warns(RuntimeWarning, match="overflowed for 3 of 3 samples"):
        x = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1


def test_latent_and_generate_are_the_base_noise_and_the_inverse(name):
    """gen's latent contract (docs/plugins.md): latent(n) is the standard-normal noise of
    every latent part as one (n, D) tensor, generate inverts it, and generate(latent(n)) is
    sample(n) for the same generator, so truncation and interpolation see the same model."""
    from gen.capabilities import capabilities

    model = model_for(name)
    assert {"truncation", "latent-interpolation"} <= set(capabilities(type(model)))
    model.train(True)
    seed = lambda: torch.Generator().manual_seed(6)  # noqa: E731
    z = model.latent(5, seed())
    assert z.shape == (5, 1 * 8 * 8)
    assert torch.equal(model.generate(z), model.sample(5, generator=seed()))
    assert torch.equal(model.generate(z, temperature=0.6),
                       model.sample(5, generator=seed(), temperature=0.6))
    assert model.flow.training, "generate restores the training mode"
    with pytest.raises(gen.GenError, match=r"expected latents of shape \(n, 64\)"):
        model.generate(torch.zeros(5, 63))
