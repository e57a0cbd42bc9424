"""gen-gan's models run the conformance kit like any third-party family would: every objective
on every backbone (each model's own backbone by the classes below, the others by the generated
ones at the end), and spectral normalisation, whose power-iteration state must resume
bit-identically like every other weight."""

from gen.testing import ModelConformance

CONV = {"model.g_features": 4, "model.d_features": 4, "model.latent_dim": 8,
        "data.image_size": 16}


class TestGAN(ModelConformance):
    model = "gan"
    plugin_module = "gen_gan"
    tiny = {"model.g_hidden": [16], "model.d_hidden": [16], "model.latent_dim": 8,
            "data.image_size": 8}


class TestDCGAN(ModelConformance):
    model = "dcgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestDCGANWithEMA(ModelConformance):
    """The weight average is in the checkpoint, so resuming still equals a straight run."""

    model = "dcgan"
    plugin_module = "gen_gan"
    tiny = {**CONV, "model.ema_decay": 0.9}


class TestHinge(ModelConformance):
    model = "hinge"
    plugin_module = "gen_gan"
    tiny = CONV


class TestSNGANWithProjectionAndTTUR(ModelConformance):
    """SNGAN (hinge, resnet, spectral norm) as a conditional model with a projection
    discriminator, class-conditional batch norm and its own discriminator optimizer."""

    model = "hinge"
    plugin_module = "gen_gan"
    conditional = True
    tiny = {**CONV, "model.backbone": "resnet", "model.spectral_norm": True,
            "model.conditioning": "projection", "model.n_critic": 2,
            "model.d_optimizer": {"name": "adam", "lr": 4e-4, "betas": [0.0, 0.9]}}


class TestLSGANWithLeCam(ModelConformance):
    """LeCam's anchors are buffers of a module in self.modules: checkpointed, resumed."""

    model = "lsgan"
    plugin_module = "gen_gan"
    tiny = {**CONV, "model.lecam_weight": 0.1, "model.lecam_decay": 0.5}


class TestGANWithLazyR1AndR2(ModelConformance):
    """The lazy update count is checkpointed: a run resumed at step 2 regularises at step 3
    as the uninterrupted run does (every 2nd update, from the first)."""

    model = "gan"
    plugin_module = "gen_gan"
    tiny = {"model.g_hidden": [16], "model.d_hidden": [16], "model.latent_dim": 8,
            "data.image_size": 8, "model.r1_gamma": 1.0, "model.r2_gamma": 0.5,
            "model.reg_every": 2}


class TestWGANGPWithAuxiliaryClassifier(ModelConformance):
    model = "wgan-gp"
    plugin_module = "gen_gan"
    conditional = True
    tiny = {"model.g_hidden": [16], "model.d_hidden": [16], "model.latent_dim": 8,
            "data.image_size": 8, "model.backbone": "mlp", "model.conditioning": "auxiliary"}


class TestLSGAN(ModelConformance):
    model = "lsgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestWGAN(ModelConformance):
    model = "wgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestWGANGP(ModelConformance):
    model = "wgan-gp"
    plugin_module = "gen_gan"
    tiny = CONV


class TestCGAN(ModelConformance):
    model = "cgan"
    plugin_module = "gen_gan"
    tiny = CONV


class TestACGANWithEMA(ModelConformance):
    model = "acgan"
    plugin_module = "gen_gan"
    tiny = {**CONV, "model.ema_decay": 0.99}


class TestDCGANWithSpectralNorm(ModelConformance):
    model = "dcgan"
    plugin_module = "gen_gan"
    tiny = {**CONV, "model.spectral_norm": True}


class TestWGANGPOnResNetWithSpectralNorm(ModelConformance):
    model = "wgan-gp"
    plugin_module = "gen_gan"
    tiny = {**CONV, "model.backbone": "resnet", "model.spectral_norm": True}


MLP = {"model.g_hidden": [16], "model.d_hidden": [16], "model.latent_dim": 8,
       "data.image_size": 8}
RESNET = {**CONV, "model.backbone": "resnet"}
OWN = {"gan": "mlp"}  # the others' own backbone is dcgan, tested by the classes above


def _other_backbones():
    """A kit class for every (objective, backbone) pair other than the model's own."""
    for model in ("gan", "dcgan", "hinge", "lsgan", "wgan", "wgan-gp", "cgan", "acgan"):
        for backbone, tiny in (("mlp", {**MLP, "model.backbone": "mlp"}),
                               ("dcgan", {**CONV, "model.backbone": "dcgan"}),
                               ("resnet", RESNET)):
            if backbone == OWN.get(model, "dcgan"):
                continue
            name = f"Test{model.replace('-', '').upper()}On{backbone.capitalize()}"
            yield name, type(name, (ModelConformance,),
                             {"model": model, "plugin_module": "gen_gan", "tiny": tiny})


globals().update(_other_backbones())
