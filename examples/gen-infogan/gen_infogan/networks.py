"""DCGAN-style networks for square images of 8..64 pixels (powers of two), and the Q head.

The generator starts from a 4x4 map and doubles it per block; the discriminator's body halves
the image down to a 4x4 map, on which both the real/fake head (in the discriminator) and the
Q head (a separate module, `QHead`) sit.
"""

from __future__ import annotations

import torch
from torch import nn


def _blocks(image_size: int) -> int:
    """Stride-2 blocks between a 4x4 map and the image: log2(image_size / 4)."""
    return (image_size // 4).bit_length() - 1


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions and linear layers, N(1, 0.02) for batch-norm scales
    (Radford et al. 2015)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """latent (N, latent_dim) -> images (N, C, S, S) in [-1, 1]: a linear layer to a 4x4 map of
    ``features * 2**(blocks-1)`` channels, then transposed convolutions that double the size
    and halve the channels, batch norm and ReLU between, tanh at the end."""

    num_classes = None  # gen.Generator protocol: unconditional

    def __init__(self, latent_dim: int, channels: int, image_size: int, features: int):
        super().__init__()
        self.latent_dim = latent_dim
        blocks = _blocks(image_size)
        width = features * 2 ** (blocks - 1)
        self.width = width
        self.project = nn.Sequential(
            nn.Linear(latent_dim, width * 16, bias=False),
            nn.BatchNorm1d(width * 16),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        for _ in range(blocks - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(inplace=True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.project(z).view(-1, self.width, 4, 4)
        return self.upsample(h)


class Discriminator(nn.Module):
    """images (N, C, S, S) -> one logit per image, (N,). ``body`` (stride-2 convolutions with
    LeakyReLU 0.2, batch norm on all but the first) maps the image to ``feature_shape``, a 4x4 map
    that the Q head shares; ``head`` is a 4x4 convolution to the logit.

    ``discriminator(x, features=True)`` returns ``(logits, body_output)``, so a step computes
    the body once for both heads."""

    num_classes = None  # gen.Discriminator protocol: no auxiliary classifier

    def __init__(self, channels: int, image_size: int, features: int):
        super().__init__()
        layers: list[nn.Module] = []
        width_in, width = channels, features
        for i in range(_blocks(image_size)):
            layers.append(nn.Conv2d(width_in, width, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width_in, width = width, width * 2
        self.body = nn.Sequential(*layers)
        self.feature_shape = (width_in, 4, 4)
        self.head = nn.Conv2d(width_in, 1, 4, 1, 0)
        init_weights(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, features: bool = False):
        h = self.body(x)
        logits = self.head(h).flatten()
        return (logits, h) if features else logits


class QHead(nn.Module):
    """The recognition network's own layers, on the discriminator body's output (paper,
    appendix C.1: FC 128-BN-lReLU-FC): categorical logits, continuous means and, when
    ``learn_std``, continuous log standard deviations, concatenated in that order."""

    def __init__(self, feature_shape: tuple[int, int, int], hidden: int, outputs: int):
        super().__init__()
        c, h, w = feature_shape
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * h * w, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, outputs),
        )
        init_weights(self)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)
