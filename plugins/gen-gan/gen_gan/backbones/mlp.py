"""GAN: Goodfellow et al. 2014, "Generative Adversarial Nets", with MLP networks.

The discriminator uses dropout as in the paper; LeakyReLU replaces its maxout units, and the
generator ends in tanh so images live in [-1, 1] like every gen model. The generator's hidden
layers use batch norm and LeakyReLU(0.2): with plain ReLU layers it collapsed to one noisy
image on MNIST within 500 steps (seen here), with them it draws varied digits. Loss: eq. 1 with
the non-saturating generator objective of section 3.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import gen
from gen_gan.base import TwoPlayerGAN
from gen_gan.specs import GANSpec


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, int, int], hidden: list[int]):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = None
        self.shape = shape
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.2, inplace=True)]
            width = h
        layers += [nn.Linear(width, math.prod(shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], hidden: list[int], dropout: float):
        super().__init__()
        self.num_classes = None
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(1)


class GAN(TwoPlayerGAN):
    def __init__(self, spec: GANSpec, data: gen.DataInfo):
        shape = (data.channels, data.image_size, data.image_size)
        super().__init__(
            spec,
            data,
            MLPGenerator(spec.latent_dim, shape, spec.g_hidden),
            MLPDiscriminator(shape, spec.d_hidden, spec.dropout),
        )
