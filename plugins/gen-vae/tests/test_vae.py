"""The VAE and CVAE models: protocols, shapes, gradients, the ELBO and the importance-weighted
estimate, and the use of labels."""

import math

import pytest
import torch

import gen
from gen.data.datasets import load_dataset
from gen.data.loader import BatchStream
from gen_vae.cvae import CVAE
from gen_vae.specs import CVAESpec, VAESpec
from gen_vae.vae import VAE

TINY = {"features": 4, "hidden": 16, "latent_dim": 4}


def data_info(binary=True, size=8, channels=1, classes=10):
    return gen.DataInfo(name="t", channels=channels, image_size=size, num_classes=classes,
                        num_images=100, binary=binary)


def binary_images(n, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, size, size, generator=g) < 0.3).float() * 2 - 1


def tiny_vae(**kw):
    torch.manual_seed(0)
    return VAE(VAESpec(**TINY), data_info(**kw))


def tiny_cvae(**kw):
    torch.manual_seed(0)
    return CVAE(CVAESpec(**TINY), data_info(**kw))


@pytest.fixture(scope="module")
def trained():
    """A small VAE after 300 steps on 512 statically binarised 14x14 digits (about 2 s): its
    posterior carries a few nats of information, so the IW bound has something to tighten."""
    torch.manual_seed(0)
    data = load_dataset(gen.DataSpec(limit=512, image_size=14, binarize="static"))
    spec = VAESpec(features=8, hidden=64, latent_dim=8, optimizer=gen.OptimizerSpec(lr=3e-3))
    model = VAE(spec, data.info)
    stream = BatchStream(data, 32, 0, torch.device("cpu"))
    for _ in range(300):
        model.train_step(stream)
    return model, data.images[:64].float() / 127.5 - 1


# -- contract -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [tiny_vae, tiny_cvae])
def test_protocols_and_likelihood_kind(make):
    model = make()
    assert isinstance(model, gen.DensityModel)
    assert isinstance(model, gen.LatentVariableModel)
    assert model.likelihood == "lower-bound"
    assert model.conditional == (make is tiny_cvae)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("make", [tiny_vae, tiny_cvae])
def test_shapes_of_encode_decode_sample_and_likelihoods(make, binary):
    model = make(binary=binary, size=9, channels=3)  # an odd size: the decoder crops
    x = binary_images(5, 9).expand(-1, 3, -1, -1)
    y = torch.arange(5) % 10 if model.conditional else None
    z = model.encode(x, y)
    assert z.shape == (5, 4)
    images = model.decode(z, y)
    assert images.shape == (5, 3, 9, 9)
    assert images.min() >= -1 and images.max() <= 1
    assert model.sample(6).shape == (6, 3, 9, 9)
    assert model.log_prob(x, y).shape == (5,)
    assert model.iw_log_prob(x, y, samples=3).shape == (5,)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("method", ["sample", "sample_means"])
def test_sample_draws_only_from_the_given_generator(method, binary):
    model = tiny_vae(binary=binary)
    draw = getattr(model, method)
    state = torch.get_rng_state()
    a = draw(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)
    b = draw(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_decode_is_the_bernoulli_mean():
    model = tiny_vae()
    z = torch.randn(3, 4)
    assert torch.allclose(model.decode(z), torch.sigmoid(model.decoder(z)) * 2 - 1)


@pytest.mark.parametrize("make", [tiny_vae, tiny_cvae])
def test_samples_are_bernoulli_draws_in_minus_one_one(make):
    """Binarised data: every drawn pixel is -1 or 1 (the held-out images' value set), and the
    draws of one z average to its mean image."""
    model = make()
    images = model.sample(64, generator=torch.Generator().manual_seed(0))
    assert set(images.unique().tolist()) == {-1.0, 1.0}
    g = torch.Generator().manual_seed(1)
    z = torch.randn(1, 4, generator=g).expand(4000, -1)
    y = torch.zeros(4000, dtype=torch.long) if model.conditional else None
    draws = model.output.sample(model.decoder(z, y), g)
    assert torch.allclose(draws.mean(0), model.decode(z[:1], y if y is None else y[:1])[0],
                          atol=0.07)


def test_samples_of_eight_bit_data_are_bin_centres():
    model = tiny_vae(binary=False, channels=3)
    images = model.sample(16, generator=torch.Generator().manual_seed(0))
    pixels = (images + 1) * 127.5
    assert torch.allclose(pixels, pixels.round(), atol=1e-4)
    assert images.min() >= -1 and images.max() <= 1
    assert pixels.round().unique().numel() > 2, "draws, not a few fixed values"


@pytest.mark.parametrize("make", [tiny_vae, tiny_cvae])
def test_sample_means_are_the_decoded_means_of_the_same_latents(make):
    model = make()
    means = model.sample_means(6, generator=torch.Generator().manual_seed(2))
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    y = torch.arange(6) % 10 if model.conditional else None
    assert torch.equal(means, model.decode(z, y))
    assert ((means > -1) & (means < 1)).any(), "means are grey where the model is unsure"
    draws = model.sample(6, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(draws, means)


def test_train_step_logs_and_weights_the_kl_by_beta():
    torch.manual_seed(0)
    model = VAE(VAESpec(**TINY, beta=2.5), data_info())
    x = binary_images(8)
    logs = model.train_step(lambda: gen.Batch(x, None))
    assert set(logs) == {"loss", "elbo", "recon", "kl"}
    assert all(v.ndim == 0 and not v.requires_grad for v in logs.values())
    assert torch.isclose(logs["loss"], logs["recon"] + 2.5 * logs["kl"])
    assert torch.isclose(logs["elbo"], -(logs["recon"] + logs["kl"]))


def test_gradients_reach_the_encoder_through_the_reparameterisation():
    """The reconstruction term alone (no KL) must move the encoder, mean *and* variance heads:
    only z = mu + sigma * eps connects them to the decoder's likelihood."""
    model = tiny_vae()
    log_px, _ = model.elbo_terms(binary_images(8))
    (-log_px.mean()).backward()
    for name, p in model.encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    head = model.encoder.fc[-1].weight.grad  # rows: latent_dim means, then latent_dim log-vars
    assert head[:4].abs().sum() > 0 and head[4:].abs().sum() > 0


# -- the importance-weighted estimate ---------------------------------------------------------


def test_iw_with_one_sample_equals_the_elbo_in_expectation(trained):
    """E[IW_1] = ELBO. 4 images x 2,000 draws each of log_prob (analytic KL) and iw_log_prob
    with K = 1 (Monte-Carlo KL); their means agree within 4 standard errors, per image."""
    model, x = trained
    torch.manual_seed(1)
    reps = x[:4].repeat(2000, 1, 1, 1)
    elbo = model.log_prob(reps).view(2000, 4)
    iw1 = model.iw_log_prob(reps, samples=1).view(2000, 4)
    se = (elbo.var(0) / 2000 + iw1.var(0) / 2000).sqrt()
    assert (se < 0.5).all()  # the comparison is sharp enough to mean something
    assert ((elbo.mean(0) - iw1.mean(0)).abs() < 4 * se).all(), (elbo.mean(0), iw1.mean(0), se)


def test_iw_estimate_rises_with_the_number_of_samples(trained):
    """Burda et al. 2016, theorem 1: E[IW_K] grows with K. On 64 test digits x 8 repetitions,
    K = 50 beats K = 1 (and the ELBO) on average by more than 0.2 nats."""
    model, x = trained
    torch.manual_seed(2)
    reps = x.repeat(8, 1, 1, 1)
    elbo = model.log_prob(reps).mean()
    iw1 = model.iw_log_prob(reps, samples=1).mean()
    iw50 = model.iw_log_prob(reps, samples=50).mean()
    assert iw50 > iw1 + 0.2 and iw50 > elbo + 0.2, (elbo, iw1, iw50)


@pytest.mark.parametrize("make", [tiny_vae, tiny_cvae])
def test_iw_pairs_every_sample_with_its_own_image_and_label(make):
    """Images and samples are decoded together; recompute each image's weights on its own from
    the same noise (the estimate's own generator, seeded 0: never the global RNG) and compare."""
    model = make()
    x, k = binary_images(3), 7
    y = torch.tensor([2, 5, 9]) if model.conditional else None
    state = torch.get_rng_state()
    got = model.iw_log_prob(x, y, samples=k)
    assert torch.equal(torch.get_rng_state(), state), "scoring moved the training RNG"
    eps = torch.randn(k, 3, 4, generator=torch.Generator().manual_seed(0))
    mu, log_var = model.encoder(x, y)
    for j in range(3):
        z = mu[j] + eps[:, j] * (0.5 * log_var[j]).exp()
        yj = None if y is None else y[j].repeat(k)
        target = model.output.target(x[j].expand(k, -1, -1, -1))
        log_px = model.output.log_prob(model.decoder(z, yj), target)
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_qz = torch.distributions.Normal(mu[j], (0.5 * log_var[j]).exp()).log_prob(z).sum(-1)
        expected = torch.logsumexp(log_px + log_pz - log_qz, 0) - math.log(k)
        assert torch.isclose(got[j], expected, atol=1e-4), (j, got[j], expected)


def test_iw_in_small_chunks_and_image_blocks():
    """A tiny ``iw_batch`` forces one sample per chunk and images in blocks; the estimate keeps
    its shape and stays a bound of the same size (K = 200, within 0.5 nats of one big chunk)."""
    model = tiny_vae()
    x = binary_images(5)
    torch.manual_seed(5)
    big = model.iw_log_prob(x, samples=200)
    model.iw_batch = 2
    torch.manual_seed(6)
    small = model.iw_log_prob(x, samples=200)
    assert small.shape == (5,)
    assert torch.allclose(small, big, atol=0.5)
    with pytest.raises(gen.GenError):
        model.iw_log_prob(x, samples=0)


# -- labels ---------------------------------------------------------------------------------


def test_cvae_uses_its_labels():
    model = tiny_cvae()
    z = torch.randn(4, 4)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(model.decode(z, zeros), model.decode(z, ones))
    x = binary_images(4)
    assert not torch.allclose(model.encode(x, zeros), model.encode(x, ones))
    g = torch.Generator().manual_seed(0)
    cycled = model.sample(4, generator=g)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(cycled, model.sample(4, labels=torch.arange(4), generator=g))


def test_cvae_needs_labels():
    model = tiny_cvae()
    with pytest.raises(gen.GenError, match="conditional"):
        model.log_prob(binary_images(2))
    with pytest.raises(gen.DataError, match="class labels"):
        CVAE(CVAESpec(**TINY), data_info(classes=None))


def test_defaults():
    spec = gen.specs.validate(VAESpec, {})
    assert (spec.data.image_size, spec.data.binarize) == (28, "dynamic")
    assert (spec.model.optimizer.name, spec.model.optimizer.lr) == ("adam", 1e-3)
    assert spec.model.beta == 1.0


# -- gen's latent contract (latent, generate) -----------------------------------------------


@pytest.mark.parametrize("make", [tiny_vae, tiny_cvae])
def test_latent_and_generate_are_the_prior_and_the_decoder_mean(make):
    """generate(latent(n)) is what sample_means draws (the decoder's means for z ~ p(z)), and
    latent draws the z that sample draws first: the contract gen's truncation and
    interpolation use (docs/plugins.md)."""
    from gen.capabilities import capabilities

    model = make()
    assert {"truncation", "latent-interpolation"} <= set(capabilities(type(model)))
    seed = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    z = model.latent(6, seed())
    assert z.shape == (6, TINY["latent_dim"])
    images = model.generate(z)
    assert torch.equal(images, model.sample_means(6, generator=seed()))
    assert images.shape == (6, 1, 8, 8) and images.abs().max() <= 1
    other = model.latent(6, torch.Generator().manual_seed(5))
    assert not torch.equal(images, model.generate(other))
    if model.conditional:  # the classes cycle without labels, as sample's do
        labels = torch.arange(6) % 10
        assert torch.equal(images, model.generate(z, labels))
        assert not torch.equal(images, model.generate(z, torch.full((6,), 3)))
