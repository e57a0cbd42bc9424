"""gen-infogan: registration only, so that discovering plugins never imports torch."""

import gen


@gen.hookimpl
def gen_register_models(register):
    register(
        name="infogan",
        kind="adversarial",
        conditional=False,
        summary="InfoGAN, a GAN with interpretable latent codes (Chen et al. 2016)",
        spec="gen_infogan.specs:InfoGANSpec",
        model="gen_infogan.model:InfoGAN",
    )
