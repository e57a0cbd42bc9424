"""gen-gan's models run the conformance kit like any third-party family would."""

from gen.testing import ModelConformance


class TestGAN(ModelConformance):
    model = "gan"
    plugin_module = "gen_gan"
    tiny = {"model.g_hidden": [16], "model.d_hidden": [16], "model.latent_dim": 8,
            "data.image_size": 8}


class TestDCGAN(ModelConformance):
    model = "dcgan"
    plugin_module = "gen_gan"
    tiny = {"model.g_features": 4, "model.d_features": 4, "model.latent_dim": 8,
            "data.image_size": 16}
