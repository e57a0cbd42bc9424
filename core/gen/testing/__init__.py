"""The conformance kit: the tests every model family passes, built-in or third-party.

In a plugin's test suite::

    from gen.testing import ModelConformance

    class TestDCGAN(ModelConformance):
        model = "dcgan"
        plugin_module = "gen_gan"
        tiny = {"model.g_features": 8, "model.d_features": 8, "data.image_size": 16}

pytest then runs every ``test_*`` method of the kit against that model, found through the
installed entry points exactly as `gen` finds it. Autoregressive plugins also get
`assert_causal`, which proves by gradients that no output sees its own or a later sub-pixel.
"""

import pytest

# Before the kit's modules are imported: pytest then explains their asserts as it does a test
# module's (the values compared), beside the message that names the likely cause.
pytest.register_assert_rewrite(
    "gen.testing.batches", "gen.testing.causality", "gen.testing.discovery", "gen.testing.kit",
    "gen.testing.likelihood", "gen.testing.tiny")

from gen.testing.causality import assert_causal, raster_order  # noqa: E402
from gen.testing.kit import ModelConformance, tiny_spec  # noqa: E402

__all__ = ["ModelConformance", "assert_causal", "raster_order", "tiny_spec"]
