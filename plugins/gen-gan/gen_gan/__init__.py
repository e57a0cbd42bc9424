"""gen-gan: the adversarial family. Registration only: importing this does not import torch."""

import gen


@gen.hookimpl
def gen_register_models(register):
    register(
        name="gan",
        kind="adversarial",
        summary="GAN with MLP generator and discriminator (Goodfellow et al. 2014)",
        spec="gen_gan.specs:GANSpec",
        model="gen_gan.gan:GAN",
    )
    register(
        name="dcgan",
        kind="adversarial",
        summary="Deep convolutional GAN (Radford et al. 2015)",
        spec="gen_gan.specs:DCGANSpec",
        model="gen_gan.dcgan:DCGAN",
    )
