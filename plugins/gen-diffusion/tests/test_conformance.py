"""gen-diffusion's models run the conformance kit like any third-party family would. Two
levels (mults [1, 2]) so the kit's 2x2 bound check builds the U-Net too; T = 50 and a few
sampling steps keep the bound and the sample grids fast on a CPU."""

from gen.testing import ModelConformance

NETWORK = {"data.image_size": 8, "model.width": 8, "model.mults": [1, 2],
           "model.attention_resolutions": [4]}
DDPM_TINY = {**NETWORK, "model.timesteps": 50, "model.sample_steps": 5}
FLOW_TINY = {**NETWORK, "model.sample_steps": 3}


class TestDDPM(ModelConformance):
    model = "ddpm"
    plugin_module = "gen_diffusion"
    tiny = DDPM_TINY


class TestConditionalDDPM(ModelConformance):
    """Guidance 2 by default, so sampling runs both branches."""

    model = "ddpm"
    plugin_module = "gen_diffusion"
    tiny = {**DDPM_TINY, "model.conditional": True, "model.guidance": 2.0}
    conditional = True


class TestFlowMatching(ModelConformance):
    model = "flow-matching"
    plugin_module = "gen_diffusion"
    tiny = FLOW_TINY


class TestConditionalFlowMatching(ModelConformance):
    model = "flow-matching"
    plugin_module = "gen_diffusion"
    tiny = {**FLOW_TINY, "model.conditional": True, "model.guidance": 2.0}
    conditional = True
