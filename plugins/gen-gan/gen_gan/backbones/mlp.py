"""The mlp backbone: fully connected networks on flattened images (the networks of `gan`).

After Goodfellow et al. 2014: the discriminator uses dropout as in the paper, with LeakyReLU in
place of its maxout units; the generator ends in tanh so images live in [-1, 1] like every gen
model. The generator's hidden layers use batch norm and LeakyReLU(0.2): with plain ReLU layers
it collapsed to one noisy image on MNIST within 500 steps (seen here), with them it draws
varied digits. The discriminator has no normalisation unless ``norm`` asks for it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gen_gan.backbones.conditioning import with_label
from gen_gan.specs import Norm


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> hidden layers -> image; with ``num_classes`` the one-hot label is
    concatenated to z."""

    def __init__(self, latent_dim: int, shape: tuple[int, int, int], hidden: list[int],
                 num_classes: int | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.shape = shape
        layers: list[nn.Module] = []
        width = latent_dim + (num_classes or 0)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.2, inplace=True)]
            width = h
        layers += [nn.Linear(width, math.prod(shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z = with_label(z, y, self.num_classes)
        return self.net(z).view(z.shape[0], *self.shape)


def _norm(kind: Norm, width: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm1d(width)]
    if kind == "layer":
        return [nn.LayerNorm(width)]
    return []


class MLPDiscriminator(nn.Module):
    """(N, ...) flattened to ``inputs`` features -> ``outputs`` logits per image: shape (N,)
    for one output, else (N, outputs)."""

    def __init__(self, inputs: int, hidden: list[int], dropout: float, norm: Norm = "none",
                 outputs: int = 1):
        super().__init__()
        self.num_classes = None
        layers: list[nn.Module] = [nn.Flatten()]
        width = inputs
        for h in hidden:
            layers += [nn.Linear(width, h), *_norm(norm, h), nn.LeakyReLU(0.2, inplace=True),
                       nn.Dropout(dropout)]  # also at 0: the layer indices (checkpoint keys) stay
            width = h
        layers.append(nn.Linear(width, outputs))
        self.net = nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x), the last hidden layer's activations (N, d_hidden[-1])."""
        return self.net[:-1](x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """psi(phi): the output layer, (N, outputs)."""
        return self.net[-1](features)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.net(x)
        return out.squeeze(1) if out.shape[1] == 1 else out
