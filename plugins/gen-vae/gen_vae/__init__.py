"""gen-vae: the variational family. Registration only: importing this does not import torch."""

import gen


@gen.hookimpl
def gen_register_models(register):
    register(
        name="vae",
        kind="latent-variable",
        summary="Variational autoencoder with convolutional networks (Kingma & Welling 2014)",
        spec="gen_vae.specs:VAESpec",
        model="gen_vae.vae:VAE",
    )
    register(
        name="cvae",
        kind="latent-variable",
        conditional=True,
        summary="Class-conditional VAE, labels in encoder and decoder (Sohn et al. 2015)",
        spec="gen_vae.specs:CVAESpec",
        model="gen_vae.cvae:CVAE",
    )
