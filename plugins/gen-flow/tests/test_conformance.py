"""gen-flow's models run the conformance kit like any third-party family would."""

from gen.testing import ModelConformance

TINY_DATA = {"data.image_size": 8, "model.hidden": 4, "model.warmup_steps": 2}


class TestRealNVP(ModelConformance):
    model = "realnvp"
    plugin_module = "gen_flow"
    tiny = {**TINY_DATA, "model.scales": 2, "model.blocks": 1}


class TestGlow(ModelConformance):
    """One level, so the kit's 2x2 test can build it too (two levels need 4x4 images); the
    split prior's way through training and resume is tested in test_actnorm.py."""

    model = "glow"
    plugin_module = "gen_flow"
    tiny = {**TINY_DATA, "model.levels": 1, "model.steps": 2}
