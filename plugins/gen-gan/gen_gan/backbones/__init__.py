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


def build_discriminator(spec: AdversarialSpec, data: gen.DataInfo, *,
                        label_input: int | None = None,
                        auxiliary_classes: int | None = None) -> nn.Module:
    """D(x) on ``spec.backbone`` with ``spec.discriminator_norm``: one logit (or critic score)
    per image. ``label_input``: D(x|y) over that many classes (cgan); ``auxiliary_classes``:
    also class logits (acgan). With ``spec.spectral_norm`` every weight of it is spectrally
    normalised."""
    extra, outputs = label_input or 0, 1 + (auxiliary_classes or 0)
    norm = spec.discriminator_norm
    if spec.backbone == "mlp":
        inputs = data.channels * data.image_size ** 2 + extra
        net = MLPDiscriminator(inputs, spec.d_hidden, spec.dropout, norm, outputs)
    elif spec.backbone == "dcgan":
        net = DCGANDiscriminator(data.channels + extra, data.image_size, spec.d_features, norm,
                                 outputs)
    else:
        net = ResNetDiscriminator(data.channels + extra, data.image_size, spec.d_features, norm,
                                  outputs, "sum" if spec.spectral_norm else "mean")
    if spec.spectral_norm:
        spectrally_normalised(net)
    if label_input:
        return LabelInputDiscriminator(net, label_input, flat=spec.backbone == "mlp")
    if auxiliary_classes:
        return AuxiliaryClassifier(net, auxiliary_classes)
    return net


def spectrally_normalised(module: nn.Module) -> nn.Module:
    """Miyato et al. 2018: every convolution and linear weight W of ``module`` divided by its
    largest singular value, estimated by one power iteration per forward pass in training mode
    (torch's parametrisation; its vectors u, v are buffers, so checkpoints carry them and a
    resumed run goes on with the same estimate). In place; returns ``module``."""
    for layer in list(module.modules()):
        if isinstance(layer, nn.Conv2d | nn.Linear):
            spectral_norm(layer)
    return module


def num_classes(data: gen.DataInfo, model: str) -> int:
    """The number of classes a conditional model is built for; data without labels is an error."""
    if data.num_classes is None:
        raise gen.DataError(f"{model} is conditional and needs labelled data ({data.name} has "
                            "no labels)")
    return data.num_classes
