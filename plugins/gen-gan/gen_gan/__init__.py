"""gen-gan: the adversarial family. Registration only: importing this does not import torch.

Each model is an objective; its networks are ``model.backbone`` (mlp, dcgan or resnet), the
paper's by default, as each summary says."""

import gen

# name, summary, spec class, model class, conditional
MODELS = [
    ("gan", "GAN (Goodfellow et al. 2014); backbone mlp by default",
     "gen_gan.specs:GANSpec", "gen_gan.gan:GAN", False),
    ("dcgan", "Deep convolutional GAN (Radford et al. 2015): gan's loss, backbone dcgan",
     "gen_gan.specs:DCGANSpec", "gen_gan.dcgan:DCGAN", False),
    ("lsgan", "Least squares GAN (Mao et al. 2017); backbone dcgan by default",
     "gen_gan.specs:LSGANSpec", "gen_gan.lsgan:LSGAN", False),
    ("wgan", "Wasserstein GAN with weight clipping (Arjovsky et al. 2017); backbone dcgan "
     "by default",
     "gen_gan.specs:WGANSpec", "gen_gan.wgan:WGAN", False),
    ("wgan-gp", "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017); backbone "
     "dcgan by default",
     "gen_gan.specs:WGANGPSpec", "gen_gan.wgan_gp:WGANGP", False),
    ("hinge", "Hinge-loss GAN (Lim & Ye 2017; Miyato et al. 2018, SNGAN with backbone resnet "
     "and spectral_norm); backbone dcgan by default",
     "gen_gan.specs:HingeSpec", "gen_gan.hinge:Hinge", False),
    ("cgan", "Conditional GAN, labels fed to both networks (Mirza & Osindero 2014); "
     "backbone dcgan by default",
     "gen_gan.specs:CGANSpec", "gen_gan.cgan:CGAN", True),
    ("acgan", "Auxiliary classifier GAN (Odena et al. 2017); backbone dcgan by default",
     "gen_gan.specs:ACGANSpec", "gen_gan.acgan:ACGAN", True),
]


@gen.hookimpl
def gen_register_models(register):
    for name, summary, spec, model, conditional in MODELS:
        register(
            name=name,
            kind="adversarial",
            conditional=conditional,
            summary=summary,
            spec=spec,
            model=model,
        )
