"""The conformance kit every gen model family passes, with networks small enough for a CPU."""

from gen.testing import ModelConformance

TINY = {
    "model.noise_dim": 4,
    "model.g_features": 4,
    "model.d_features": 4,
    "model.q_hidden": 8,
    "data.image_size": 8,
}


class TestInfoGAN(ModelConformance):
    model = "infogan"
    plugin_module = "gen_infogan"
    tiny = TINY
