"""Convolutional encoder q(z|x[, y]) and decoder p(x|z[, y]).

Two stride-2 convolutions (image_size -> /4) and a fully connected layer on each side, the
shape of the convolutional VAEs used on MNIST since Kingma & Welling's MLPs (no batch norm, so
train and eval mode compute the same function and log_prob never depends on batch statistics).
A conditional network (``num_classes`` set) appends the one-hot label to the fully connected
layer's input, in the encoder and in the decoder (Sohn et al. 2015, section 4.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _with_label(h: torch.Tensor, y: torch.Tensor | None, num_classes: int | None) -> torch.Tensor:
    if num_classes is None:
        return h
    return torch.cat([h, F.one_hot(y, num_classes).to(h.dtype)], dim=1)


class Encoder(nn.Module):
    """image (N, C, S, S) [and label] -> (mu, log_var), each (N, latent_dim)."""

    def __init__(self, channels: int, image_size: int, features: int, hidden: int,
                 latent_dim: int, num_classes: int | None = None):
        super().__init__()
        self.num_classes = num_classes
        self.conv = nn.Sequential(
            nn.Conv2d(channels, features, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(features, 2 * features, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
        )
        side = image_size // 2 // 2  # each k=4, s=2, p=1 convolution floors the size by half
        extra = num_classes or 0
        self.fc = nn.Sequential(
            nn.Linear(2 * features * side * side + extra, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),
        )

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = _with_label(self.conv(x), y, self.num_classes)
        mu, log_var = self.fc(h).chunk(2, dim=1)
        return mu, log_var


class Decoder(nn.Module):
    """z (N, latent_dim) [and label] -> distribution parameters (N, params * C, S, S).

    Upsamples from ceil(S/4) by two transposed convolutions and crops to S, so any image size
    works (28 -> 7 -> 28 exactly)."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, features: int,
                 hidden: int, params: int, num_classes: int | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_size = image_size
        side = -(-image_size // 4)
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + (num_classes or 0), hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * features * side * side),
            nn.ReLU(),
            nn.Unflatten(1, (2 * features, side, side)),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * features, features, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(features, params * channels, 4, 2, 1),
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.deconv(self.fc(_with_label(z, y, self.num_classes)))
        s = self.image_size
        return out[:, :, :s, :s]
