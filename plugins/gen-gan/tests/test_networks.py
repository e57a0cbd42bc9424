"""Network shapes, the gen protocols, the DCGAN architecture rules and spec checks."""

import pytest
import torch
from gan_helpers import tiny_model
from torch import nn

import gen
from gen import specs
from gen_gan.dcgan import DCGAN
from gen_gan.gan import GAN
from gen_gan.specs import DCGANSpec, GANSpec


def info(size: int, channels: int = 1) -> gen.DataInfo:
    return gen.DataInfo(name="t", channels=channels, image_size=size, num_classes=10,
                        num_images=100)


@pytest.mark.parametrize("size,channels", [(8, 1), (32, 1), (64, 3)])
def test_dcgan_shapes_and_protocols(size, channels):
    model = DCGAN(DCGANSpec(g_features=4, d_features=4, latent_dim=8), info(size, channels))
    assert isinstance(model.generator, gen.Generator)
    assert isinstance(model.discriminator, gen.Discriminator)
    images = model.sample(3)
    assert images.shape == (3, channels, size, size)
    assert model.discriminator(images).shape == (3,)


@pytest.mark.parametrize("name", ["cgan", "acgan"])
def test_conditional_networks_follow_the_protocols(name):
    model = tiny_model(name)
    assert isinstance(model.generator, gen.Generator)
    assert isinstance(model.discriminator, gen.Discriminator)
    assert model.generator.num_classes == model.discriminator.num_classes == 10


def test_conditional_model_needs_labelled_data():
    from gen_gan.cgan import CGAN
    from gen_gan.specs import CGANSpec

    unlabelled = gen.DataInfo(name="folder", channels=1, image_size=16, num_classes=None,
                              num_images=10)
    with pytest.raises(gen.DataError, match="cgan is conditional"):
        CGAN(CGANSpec(), unlabelled)


def test_dcgan_follows_the_papers_rules():
    model = DCGAN(DCGANSpec(), info(32))
    g_layers = list(model.generator.modules())
    d_layers = list(model.discriminator.modules())
    everything = g_layers + d_layers
    assert not any(isinstance(m, nn.MaxPool2d | nn.AvgPool2d | nn.Linear) for m in everything)
    assert any(isinstance(m, nn.BatchNorm2d) for m in g_layers)
    assert any(isinstance(m, nn.BatchNorm2d) for m in d_layers)
    assert isinstance(g_layers[-1], nn.Tanh)
    assert {type(m) for m in g_layers if isinstance(m, nn.ReLU | nn.LeakyReLU)} == {nn.ReLU}
    assert {type(m) for m in d_layers if isinstance(m, nn.ReLU | nn.LeakyReLU)} == {nn.LeakyReLU}
    convs = [m for m in everything if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    assert all(abs(m.weight.std().item() - 0.02) < 0.005 for m in convs if m.weight.numel() > 999)


def test_dcgan_rejects_image_size_that_is_not_a_power_of_two():
    with pytest.raises(gen.SpecError) as err:
        specs.validate(DCGANSpec, {"data": {"image_size": 28}})
    [(field, message)] = err.value.problems
    assert field == "data.image_size"
    assert message.startswith("model.backbone dcgan needs a power of two >= 8 (got 28)")


def test_gan_defaults_to_28_pixel_images_and_trains():
    spec = specs.validate(GANSpec, {})
    assert spec.data.image_size == 28
    model = GAN(GANSpec(g_hidden=[32], d_hidden=[32]), info(28))
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    before = [p.clone() for p in model.generator.parameters()]
    logs = model.train_step(lambda: gen.Batch(real, None))
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake"}
    after = model.generator.parameters()
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_paper_defaults():
    dc = DCGANSpec()
    assert dc.latent_dim == 100
    assert (dc.optimizer.name, dc.optimizer.lr, dc.optimizer.betas) == ("adam", 2e-4, (0.5, 0.999))
