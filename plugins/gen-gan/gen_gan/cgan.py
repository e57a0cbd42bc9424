"""cGAN: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets".

Both players see the label y (eq. 2): min_G max_D E[log D(x|y)] + E[log(1 - D(G(z|y)|y))].
G gets the one-hot label concatenated to z; D gets it as num_classes extra constant input
channels (one-hot maps), so every convolution can relate the image to its class. The paper's
MLPs are replaced by the DCGAN backbone; the generator uses the non-saturating loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import gen
from gen_gan.dcgan import DCGAN, DCGANDiscriminator, DCGANGenerator, num_classes
from gen_gan.specs import CGANSpec


class LabelChannelsDiscriminator(nn.Module):
    """D(x|y): the DCGAN discriminator on the image stacked with one-hot label maps."""

    def __init__(self, channels: int, image_size: int, features: int, classes: int):
        super().__init__()
        self.num_classes = classes
        self.net = DCGANDiscriminator(channels + classes, image_size, features)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        maps = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None]
        return self.net(torch.cat([x, maps.expand(-1, -1, *x.shape[2:])], dim=1))


class CGAN(DCGAN):
    def build_generator(self, spec: CGANSpec, data: gen.DataInfo) -> nn.Module:
        return DCGANGenerator(spec.latent_dim, data.channels, data.image_size, spec.g_features,
                              num_classes(data, spec.name))

    def build_discriminator(self, spec: CGANSpec, data: gen.DataInfo) -> nn.Module:
        return LabelChannelsDiscriminator(data.channels, data.image_size, spec.d_features,
                                          num_classes(data, spec.name))
