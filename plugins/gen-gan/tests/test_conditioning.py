"""Conditioning as a choice of its own (model.conditioning): the projection discriminator against
hand computation, class-conditional batch norm in the resnet generator (and runs from before it
loading), and every conditioning on every backbone building and training a step."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from gan_helpers import Batches, tiny_model

from gen import specs
from gen.plugins import discover
from gen_gan.backbones.projection import ProjectionDiscriminator
from gen_gan.backbones.resnet import ConditionalBatchNorm2d, ResNetGenerator

BACKBONES = ["mlp", "dcgan", "resnet"]
OBJECTIVES = ["gan", "hinge", "lsgan", "wgan", "wgan-gp"]
# Each (conditioning, backbone) pair on one of the objectives in turn, so all of them are used.
CASES = [(c, b, OBJECTIVES[i % len(OBJECTIVES)]) for i, (c, b) in enumerate(
    itertools.product(["concat", "projection", "auxiliary"], BACKBONES))]
SMALL = {"g_hidden": [16], "d_hidden": [16], "g_features": 4, "d_features": 4, "latent_dim": 8}


def test_projection_logit_is_the_unconditional_head_plus_the_inner_product_by_hand():
    """mlp backbone, one hidden layer: phi(x) = leaky_relu(W1 x + b1), psi(phi) = w2 phi + b2,
    logit = psi(phi(x)) + <E[y], phi(x)> (Miyato & Koyama 2018, eq. 3)."""
    torch.manual_seed(0)
    model = tiny_model("hinge", backbone="mlp", conditioning="projection", dropout=0.0,
                       d_hidden=[5], g_hidden=[16], size=8)
    d = model.discriminator
    assert isinstance(d, ProjectionDiscriminator) and d.embed.weight.shape == (10, 5)
    d.eval()
    first, last = d.net.net[1], d.net.net[-1]
    x, y = torch.rand(3, 1, 8, 8) * 2 - 1, torch.tensor([0, 4, 9])
    phi = F.leaky_relu(x.flatten(1) @ first.weight.T + first.bias, 0.2)
    expected = (phi @ last.weight.T + last.bias).squeeze(1) + (d.embed.weight[y] * phi).sum(1)
    assert torch.allclose(d(x, y), expected, atol=1e-6)
    assert torch.allclose(d.net(x), expected - (d.embed.weight[y] * phi).sum(1), atol=1e-6)


@pytest.mark.parametrize("backbone", ["dcgan", "resnet"])
def test_projection_differs_between_labels_exactly_by_the_embedding_difference(backbone):
    torch.manual_seed(0)
    d = tiny_model("hinge", backbone=backbone, conditioning="projection",
                   d_norm="none").discriminator
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    a, b = torch.tensor([1, 1]), torch.tensor([7, 7])
    phi = d.net.features(x).flatten(1)
    difference = ((d.embed.weight[b] - d.embed.weight[a]) * phi).sum(1)
    assert torch.allclose(d(x, b) - d(x, a), difference, atol=1e-5)
    assert torch.allclose(d(x, a), d.net(x) + (d.embed.weight[a] * phi).sum(1), atol=1e-5)


def test_spectral_norm_normalises_the_class_embedding_too():
    d = tiny_model("hinge", backbone="resnet", conditioning="projection",
                   spectral_norm=True).discriminator
    assert torch.nn.utils.parametrize.is_parametrized(d.embed, "weight")


def test_the_conditional_resnet_generator_has_class_conditional_batch_norm():
    torch.manual_seed(0)
    g = ResNetGenerator(8, 1, 16, 4, num_classes=10)
    norms = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == 2 * len(g.blocks)
    for norm in norms:  # trained gains and shifts
        torch.nn.init.normal_(norm.gain.weight)
        torch.nn.init.normal_(norm.shift.weight)
    g.eval()
    z = torch.randn(2, 8)
    assert not torch.allclose(g(z, torch.tensor([0, 0])), g(z, torch.tensor([3, 3])))
    # A run from before conditional batch norm (no gain/shift keys) loads as plain batch norm.
    old = {k: v for k, v in g.state_dict().items() if not k.endswith(("gain.weight",
                                                                     "shift.weight"))}
    fresh = ResNetGenerator(8, 1, 16, 4, num_classes=10)
    fresh.load_state_dict(old)
    assert all(m.gain.weight.abs().sum() == 0 for m in fresh.modules()
               if isinstance(m, ConditionalBatchNorm2d))


@pytest.mark.parametrize("conditioning,backbone,objective", CASES)
def test_every_conditioning_on_every_backbone_builds_and_trains(conditioning, backbone,
                                                                objective):
    torch.manual_seed(0)
    size = 8 if backbone == "mlp" else 16
    model = tiny_model(objective, size=size, backbone=backbone, conditioning=conditioning,
                       **SMALL)
    assert model.conditional and model.generator.num_classes == 10
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    logs = model.train_step(Batches(size=size))
    assert all(torch.isfinite(v) for v in logs.values()), logs
    assert any(not torch.equal(before[k], v) for k, v in model.discriminator.state_dict().items())
    if conditioning == "auxiliary":
        assert {"d_class", "g_class", "d_accuracy"} <= set(logs)
    images = model.sample(4)
    assert images.shape == (4, 1, size, size)


def test_cgan_and_acgan_are_fixed_conditionings_and_a_conditional_hinge_is_one_spec():
    registry = discover().registry
    assert specs.validate(registry.get("cgan").spec_class(), {}).model.conditioning == "concat"
    acgan = specs.validate(registry.get("acgan").spec_class(), {}).model
    assert acgan.conditioning == "auxiliary"
    hinge = registry.get("hinge").spec_class()
    spec = specs.validate(hinge, {}, ["model.conditioning=projection",
                                      "model.backbone=resnet", "model.spectral_norm=true"])
    assert spec.model.conditioning == "projection"
    assert specs.validate(hinge, {}).model.conditioning == "none"
