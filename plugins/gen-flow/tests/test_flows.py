"""Whole flows: x -> z -> x, including the factored-out parts; the sum of log-determinants
against the autograd Jacobian of x -> (every latent part); the preprocessing's
log-determinant; and the density against where the flow's samples fall."""

import math

import pytest
import torch
from flow_models import build, randomise
from torch.autograd.functional import jacobian

# (name, image size, channels, spec fields): multi-scale ones factor variables out
SHAPES = [
    ("realnvp", 8, 1, {"scales": 3}),
    ("realnvp", 8, 3, {"scales": 2}),
    ("realnvp", 2, 1, {"scales": 2}),  # the last scale is 1x1: channel-wise couplings
    ("glow", 8, 1, {"levels": 3}),
    ("glow", 8, 3, {"levels": 2, "split_prior": "standard"}),
    ("glow", 2, 1, {"levels": 1}),
]
IDS = [f"{n}-{c}x{s}x{s}-{'-'.join(f'{k}{v}' for k, v in f.items())}" for n, s, c, f in SHAPES]

# tiny enough for a Jacobian: D = 16, 12, 4 and 16
JACOBIAN_SHAPES = [
    ("realnvp", 4, 1, {"scales": 2}),
    ("realnvp", 2, 3, {"scales": 2}),
    ("glow", 4, 1, {"levels": 2}),
    ("glow", 2, 3, {"levels": 1}),
]


def tiny(name, size, channels, fields, scale=0.1, double=True):
    model = build(name, size=size, channels=channels, double=double, **fields)
    randomise(model.flow, scale)
    return model


@pytest.mark.parametrize(("name", "size", "channels", "fields"), SHAPES, ids=IDS)
def test_flow_inverts(name, size, channels, fields):
    model = tiny(name, size, channels, fields)
    v = torch.rand(5, channels, size, size, dtype=torch.float64)
    y, _ = model.preprocess(v)
    zs, _, _ = model.flow.encode(y)
    assert [tuple(z.shape[1:]) for z in zs] == model.flow.shapes
    assert sum(z[0].numel() for z in zs) == channels * size * size
    back = model.flow.decode(zs)
    assert (back - y).abs().max() < 1e-5
    assert (model.postprocess(back) - v).abs().max() < 1e-5


@pytest.mark.parametrize(("name", "size", "channels", "fields"), SHAPES, ids=IDS)
def test_noise_round_trips(name, size, channels, fields):
    """decode_noise then encode gives the top part back; with standard-normal priors every
    part is the noise itself."""
    model = tiny(name, size, channels, fields)
    g = torch.Generator().manual_seed(0)
    eps = model.flow.noise(4, g, torch.device("cpu"), torch.float64)
    zs, _, _ = model.flow.encode(model.flow.decode_noise(eps, 1.0))
    assert torch.allclose(zs[-1], eps[-1], atol=1e-6)
    standard = name == "realnvp" or fields.get("split_prior") == "standard"
    if standard:
        for z, e in zip(zs, eps, strict=True):
            assert torch.allclose(z, e, atol=1e-6)


@pytest.mark.parametrize(("name", "size", "channels", "fields"), JACOBIAN_SHAPES)
def test_flow_logdet_is_the_jacobians(name, size, channels, fields):
    model = tiny(name, size, channels, fields, scale=0.2)
    shape = (1, channels, size, size)
    y = torch.randn(shape, dtype=torch.float64)

    def latents(flat):
        zs, _, _ = model.flow.encode(flat.view(shape))
        return torch.cat([z.flatten() for z in zs])

    jac = jacobian(latents, y.flatten())
    _, logabsdet = torch.linalg.slogdet(jac)
    _, _, logdet = model.flow.encode(y)
    assert torch.allclose(logdet[0], logabsdet, atol=1e-8, rtol=0)


@pytest.mark.parametrize("name", ["realnvp", "glow"])
def test_preprocessing_logdet_is_the_jacobians(name):
    model = build(name, size=2, channels=1, **({"levels": 1} if name == "glow" else {}))
    v = torch.rand(1, 1, 2, 2, dtype=torch.float64)
    jac = jacobian(lambda flat: model.preprocess(flat.view(v.shape))[0].flatten(), v.flatten())
    _, logabsdet = torch.linalg.slogdet(jac)
    assert torch.allclose(model.preprocess(v)[1][0], logabsdet, atol=1e-10, rtol=0)
    assert torch.allclose(model.postprocess(model.preprocess(v)[0]), v, atol=1e-12)


@pytest.mark.parametrize(("name", "fields"), [("realnvp", {"scales": 2}),
                                              ("glow", {"levels": 1})])
def test_density_agrees_with_samples(name, fields):
    """The mass the density puts on a box (its integral over uniform points) equals the
    share of the flow's samples that fall into it: forward density and inverse sampling are
    one distribution, normalised."""
    model = tiny(name, 2, 1, fields, double=False)  # float64 convolutions are slow on CPUs
    g = torch.Generator().manual_seed(0)
    n, a = 50_000, 3.0
    with torch.no_grad():
        eps = model.flow.noise(n, g, torch.device("cpu"), torch.float32)
        share = (model.flow.decode_noise(eps, 1.0).abs() < a).flatten(1).all(1).double().mean()
        y = (torch.rand(n, 1, 2, 2, generator=g) * 2 - 1) * a
        p = model.flow(y).double().exp() * (2 * a) ** 4
    assert 0.3 < share < 0.999  # a test with teeth: much of the mass, not all of it
    tolerance = 5 * (p.std() / math.sqrt(n) + (share * (1 - share) / n).sqrt())
    assert abs(p.mean() - share) < tolerance
