"""The networks of the adversarial family, built from ``model.backbone`` whatever the objective:
`build_generator` and `build_discriminator` are all a model needs. Conditioning is the same on
every backbone (`gen_gan.backbones.conditioning`); spectral normalisation wraps any
discriminator (`spectrally_normalised`)."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import gen
from gen_gan.backbones.conditioning import AuxiliaryClassifier, LabelInputDiscriminator
from gen_gan.backbones.dcgan import DCGANDiscriminator, DCGANGenerator
from gen_gan.backbones.mlp import MLPDiscriminator, MLPGenerator
from gen_gan.backbones.projection import ProjectionDiscriminator
from gen_gan.backbones.resnet import ResNetDiscriminator, ResNetGenerator
from gen_gan.specs import AdversarialSpec


def build_generator(spec: AdversarialSpec, data: gen.DataInfo,
                    num_classes: int | None = None) -> nn.Module:
    """G(z) on ``spec.backbone``, or G(z, y) with ``num_classes``."""
    if spec.backbone == "mlp":
        shape = (data.channels, data.image_size, data.image_size)
        return MLPGenerator(spec.latent_dim, shape, spec.g_hidden, num_classes)
    cls = DCGANGenerator if spec.backbone == "dcgan" else ResNetGenerator
    return cls(spec.latent_dim, data.channels, data.image_size, spec.g_features, num_classes)


def build_discriminator(spec: AdversarialSpec, data: gen.DataInfo,
                        num_classes: int | None = None) -> nn.Module:
    """D(x) on ``spec.backbone`` with ``spec.discriminator_norm``: one logit (or critic score)
    per image, conditioned on ``num_classes`` classes as ``spec.conditioning`` says: concat
    (D(x|y), the label joined to the input), projection (`ProjectionDiscriminator`) or
    auxiliary (also class logits, `AuxiliaryClassifier`). With ``spec.spectral_norm`` every
    weight of it is spectrally normalised."""
    mode = spec.conditioning if num_classes else "none"
    extra = num_classes if mode == "concat" else 0
    outputs = 1 + (num_classes if mode == "auxiliary" else 0)
    norm = spec.discriminator_norm
    if spec.backbone == "mlp":
        inputs = data.channels * data.image_size ** 2 + extra
        net = MLPDiscriminator(inputs, spec.d_hidden, spec.dropout, norm, outputs)
        width = spec.d_hidden[-1]
    elif spec.backbone == "dcgan":
        net = DCGANDiscriminator(data.channels + extra, data.image_size, spec.d_features, norm,
                                 outputs)
        width = net.net[-1].in_channels * 16  # its last hidden layer is 4x4
    else:
        net = ResNetDiscriminator(data.channels + extra, data.image_size, spec.d_features, norm,
                                  outputs, "sum" if spec.spectral_norm else "mean")
        width = spec.d_features
    if mode == "concat":
        net = LabelInputDiscriminator(net, num_classes, flat=spec.backbone == "mlp")
    elif mode == "auxiliary":
        net = AuxiliaryClassifier(net, num_classes)
    elif mode == "projection":
        net = ProjectionDiscriminator(net, num_classes, width)
    if spec.spectral_norm:
        spectrally_normalised(net)
    return net


def spectrally_normalised(module: nn.Module) -> nn.Module:
    """Miyato et al. 2018: every convolution and linear weight W of ``module`` divided by its
    largest singular value, estimated by one power iteration per forward pass in training mode
    (torch's parametrisation; its vectors u, v are buffers, so checkpoints carry them and a
    resumed run goes on with the same estimate). A projection discriminator's class embedding
    is normalised too (Miyato & Koyama 2018). In place; returns ``module``."""
    for layer in list(module.modules()):
        if isinstance(layer, nn.Conv2d | nn.Linear | nn.Embedding):
            spectral_norm(layer)
    return module


def num_classes(data: gen.DataInfo, model: str) -> int:
    """The number of classes a conditional model is built for; data without labels is an error."""
    if data.num_classes is None:
        raise gen.DataError(f"{model} is conditional and needs labelled data ({data.name} has "
                            "no labels)")
    return data.num_classes
