"""gen-autoregressive's models run the conformance kit like any third-party family would."""

from gen.testing import ModelConformance

TINY_DATA = {"data.image_size": 8, "model.output_hidden": 8}


class TestPixelCNN(ModelConformance):
    model = "pixelcnn"
    plugin_module = "gen_autoregressive"
    tiny = {**TINY_DATA, "model.hidden": 4, "model.blocks": 1}


class TestGatedPixelCNN(ModelConformance):
    model = "gated-pixelcnn"
    plugin_module = "gen_autoregressive"
    tiny = {**TINY_DATA, "model.hidden": 4, "model.layers": 2}


class TestConditionalGatedPixelCNN(ModelConformance):
    """class_conditional=true makes the run conditional although the model is registered
    unconditional (its default)."""

    model = "gated-pixelcnn"
    plugin_module = "gen_autoregressive"
    tiny = {**TINY_DATA, "model.hidden": 4, "model.layers": 2, "model.class_conditional": True}
    conditional = True


class TestRowLSTM(ModelConformance):
    model = "row-lstm"
    plugin_module = "gen_autoregressive"
    tiny = {**TINY_DATA, "model.hidden": 4, "model.layers": 1}


class TestDiagonalBiLSTM(ModelConformance):
    model = "diagonal-bilstm"
    plugin_module = "gen_autoregressive"
    tiny = {**TINY_DATA, "model.hidden": 4, "model.layers": 1}
