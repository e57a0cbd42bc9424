"""The resnet backbone: the ResNet generator and discriminator of Miyato et al. 2018 ("Spectral
Normalization for Generative Adversarial Networks", appendix B.4, Table 4) and Gulrajani et al.
2017 (appendix F), the networks the GAN libraries report CIFAR-10 results with.

Generator: z -> linear -> 4x4 -> one up-sampling residual block per doubling (batch norm, ReLU,
nearest-neighbour up-sampling, 3x3 convolutions; a 1x1 convolution on the shortcut) -> batch
norm, ReLU, 3x3 convolution, tanh. Discriminator: an "optimised" first block (convolution before
activation, average-pooled shortcut) down to half the size, down-sampling blocks to 8x8, two
more blocks at 8x8, then ReLU, pooling over positions and a linear layer: at 32x32 exactly the
papers' 4 blocks. Pooling sums (Miyato et al., whose spectral normalisation bounds each layer)
or averages (Gulrajani et al., without it: a sum over 64 positions of an unconstrained network
starts with logits of ~50, saturating the non-saturating loss). No normalisation in the
discriminator by default; with ``norm`` each residual branch normalises before its
activations. Every block is ``features`` wide (the papers: 256 in G, 128 in D). Weights:
Glorot-uniform, with gain sqrt(2) on the residual convolutions and 1 on the shortcuts, the
linear layers and the generator's output convolution, as in Miyato et al.'s code.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from gen_gan.backbones.conditioning import with_label
from gen_gan.specs import Norm


def _conv(cin: int, cout: int, kernel: int, gain: float | None = None) -> nn.Conv2d:
    """Glorot-uniform: gain sqrt(2) on 3x3 (residual) convolutions, 1 on 1x1 (shortcuts)."""
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
    if gain is None:
        gain = math.sqrt(2) if kernel == 3 else 1.0
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


def _norm(kind: Norm, width: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(width)]
    if kind == "layer":
        return [nn.GroupNorm(1, width)]
    return []


class ConditionalBatchNorm2d(nn.BatchNorm2d):
    """Class-conditional batch norm (de Vries et al. 2017, Dumoulin et al. 2017; the conditional
    generator of Miyato & Koyama 2018): batch norm, then a per-class gain and shift,
    BN(x) (1 + gain[y]) + shift[y]. Gains and shifts start at 0, so a fresh network (and a
    checkpoint written before they existed, which loads them as 0) is plain batch norm."""

    def __init__(self, width: int, classes: int):
        super().__init__(width)
        self.gain = nn.Embedding(classes, width)
        self.shift = nn.Embedding(classes, width)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = super().forward(x)
        if y is None:
            raise ValueError("this generator is conditional: pass the labels y")
        return out * (1 + self.gain(y)[:, :, None, None]) + self.shift(y)[:, :, None, None]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("gain.weight", "shift.weight"):  # runs from before conditional norm
            state_dict.setdefault(prefix + name, torch.zeros_like(getattr(self, name[:-7]).weight))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class _Residual(nn.Module):
    def __init__(self, residual: list[nn.Module], shortcut: list[nn.Module]):
        super().__init__()
        self.residual = nn.Sequential(*residual)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for layer in self.residual:  # the label reaches conditional batch norm only
            h = layer(h, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h + self.shortcut(x)


def _up_block(width: int, classes: int | None = None) -> _Residual:
    def norm():
        return nn.BatchNorm2d(width) if classes is None else ConditionalBatchNorm2d(width, classes)

    return _Residual(
        [norm(), nn.ReLU(), nn.Upsample(scale_factor=2), _conv(width, width, 3),
         norm(), nn.ReLU(), _conv(width, width, 3)],
        [nn.Upsample(scale_factor=2), _conv(width, width, 1)],
    )


def _down_block(cin: int, cout: int, norm: Norm, down: bool, first: bool) -> _Residual:
    pool = [nn.AvgPool2d(2)] if down else []
    if first:  # convolve before activating: the input is an image, not features
        return _Residual([_conv(cin, cout, 3), *_norm(norm, cout), nn.ReLU(),
                          _conv(cout, cout, 3), *pool],
                         [*pool, _conv(cin, cout, 1)])
    shortcut = [_conv(cin, cout, 1), *pool] if down or cin != cout else []
    return _Residual([*_norm(norm, cin), nn.ReLU(), _conv(cin, cout, 3), *_norm(norm, cout),
                      nn.ReLU(), _conv(cout, cout, 3), *pool], shortcut)


class ResNetGenerator(nn.Module):
    """z (N, latent_dim) -> image (N, channels, image_size, image_size) in [-1, 1]; with
    ``num_classes`` the one-hot label is concatenated to z and the blocks' batch norms are
    class-conditional (`ConditionalBatchNorm2d`)."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, features: int,
                 num_classes: int | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.width = features
        self.linear = nn.Linear(latent_dim + (num_classes or 0), 4 * 4 * features)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.blocks = nn.Sequential(*[_up_block(features, num_classes)
                                      for _ in range(int(math.log2(image_size)) - 2)])
        self.out = nn.Sequential(nn.BatchNorm2d(features), nn.ReLU(),
                                 _conv(features, channels, 3, gain=1.0), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = self.linear(with_label(z, y, self.num_classes)).view(-1, self.width, 4, 4)
        for block in self.blocks:
            x = block(x, y)
        return self.out(x)


class ResNetDiscriminator(nn.Module):
    """image -> ``outputs`` logits per image: shape (N,) for one output, else (N, outputs)."""

    def __init__(self, channels: int, image_size: int, features: int, norm: Norm = "none",
                 outputs: int = 1, pool: Literal["sum", "mean"] = "mean"):
        super().__init__()
        self.num_classes = None
        self.pool = pool
        blocks = [_down_block(channels, features, norm, down=True, first=True)]
        size = image_size // 2
        while size > 8:
            blocks.append(_down_block(features, features, norm, down=True, first=False))
            size //= 2
        blocks += [_down_block(features, features, norm, down=False, first=False)
                   for _ in range(2)]
        self.blocks = nn.Sequential(*blocks, nn.ReLU())
        self.linear = nn.Linear(features, outputs)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): the last block's activations pooled over positions, (N, features)."""
        h = self.blocks(x)
        return h.sum(dim=(2, 3)) if self.pool == "sum" else h.mean(dim=(2, 3))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """psi(phi): the linear output layer, (N, outputs)."""
        return self.linear(features)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.head(self.features(x))
        return out.squeeze(1) if out.shape[1] == 1 else out
