"""gen-vae's models run the conformance kit like any third-party family would."""

from gen.testing import ModelConformance

TINY = {"model.features": 4, "model.hidden": 16, "model.latent_dim": 4, "data.image_size": 8}


class TestVAE(ModelConformance):
    model = "vae"
    plugin_module = "gen_vae"
    tiny = TINY  # binarised data (the default): Bernoulli decoder


class TestVAE8Bit(ModelConformance):
    model = "vae"
    plugin_module = "gen_vae"
    tiny = {**TINY, "data.binarize": "none"}  # 8-bit data: discretised logistic decoder


class TestCVAE(ModelConformance):
    model = "cvae"
    plugin_module = "gen_vae"
    tiny = TINY
