"""gen-gan's models run the conformance kit like any third-party family would."""

from gen.testing import ModelConformance

CONV = {"model.g_features": 4, "model.d_features": 4, "model.latent_dim": 8,
        "data.image_size": 16}


class TestGAN(ModelConformance):
    model = "gan"
    plugin_module = "gen_gan"
    tiny = {"model.g_hidden": [16], "model.d_hidden": [16], "model.latent_dim": 8,
            "data.image_size": 8}


class TestDCGAN(ModelConformance):
    model = "dcgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestDCGANWithEMA(ModelConformance):
    """The weight average is in the checkpoint, so resuming still equals a straight run."""

    model = "dcgan"
    plugin_module = "gen_gan"
    tiny = {**CONV, "model.ema_decay": 0.9}


class TestLSGAN(ModelConformance):
    model = "lsgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestWGAN(ModelConformance):
    model = "wgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestWGANGP(ModelConformance):
    model = "wgan-gp"
    plugin_module = "gen_gan"
    tiny = CONV


class TestCGAN(ModelConformance):
    model = "cgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestACGANWithEMA(ModelConformance):
    model = "acgan"
    plugin_module = "gen_gan"
    tiny = {**CONV, "model.ema_decay": 0.99}
