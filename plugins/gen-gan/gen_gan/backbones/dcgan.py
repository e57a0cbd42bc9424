"""The dcgan backbone: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning
with Deep Convolutional Generative Adversarial Networks".

The architecture guidelines of section 3: strided (transposed) convolutions instead of pooling,
no fully connected hidden layers, batch norm in both networks (not on G's output nor D's input
layer), ReLU in G with tanh output, LeakyReLU(0.2) in D. Weights from N(0, 0.02) (section 4).
The number of up/down-sampling blocks follows the image size (4x4 -> image_size, powers of two).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gen_gan.backbones.conditioning import with_label
from gen_gan.specs import Norm


def init_weights(module: nn.Module) -> None:
    """Section 4: all weights from a zero-centred normal with standard deviation 0.02."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> 4x4 by a transposed convolution, then doubling to image_size.

    With ``num_classes``, the generator is conditional: the one-hot label is concatenated to z
    (Mirza & Osindero 2014, section 4.1; Odena et al. 2017, section 3)."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, features: int,
                 num_classes: int | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        blocks = int(math.log2(image_size)) - 2
        width = features * 2 ** (blocks - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + (num_classes or 0), width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        for _ in range(blocks - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(with_label(z, y, self.num_classes)[:, :, None, None])


def _norm(kind: Norm, width: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(width)]
    if kind == "layer":  # over (C, H, W) of each image, as Gulrajani et al. 2017 section 4
        return [nn.GroupNorm(1, width)]
    return []


class DCGANDiscriminator(nn.Module):
    """image -> halving with strided convolutions down to 4x4 -> ``outputs`` logits per image:
    shape (N,) for one output, else (N, outputs).

    ``norm`` is batch norm by default (DCGAN); a critic with a gradient penalty takes layer
    norm or none, since batch norm mixes the images of a batch (Gulrajani et al. 2017)."""

    def __init__(self, channels: int, image_size: int, features: int, norm: Norm = "batch",
                 outputs: int = 1):
        super().__init__()
        self.num_classes = None
        blocks = int(math.log2(image_size)) - 2
        width = features
        layers: list[nn.Module] = [
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(blocks - 1):
            layers.append(nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm != "batch"))
            layers += _norm(norm, width * 2)
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width *= 2
        layers.append(nn.Conv2d(width, outputs, 4, 1, 0))
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x), the last hidden layer's 4x4 activations (N, width, 4, 4)."""
        return self.net[:-1](x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """psi(phi): the last convolution, a linear map of the 4x4 features, (N, outputs)."""
        return self.net[-1](features).flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten(1).squeeze(1)
