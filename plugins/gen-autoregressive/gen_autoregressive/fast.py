"""Primitives of the cached samplers (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models").

In a causal network, a layer's activation at (i, j) depends only on lower-layer activations at
positions up to (i, j) in raster order, all of which are final once the sub-pixels before (i, j)
are sampled. So each layer's activation at (i, j) can be computed *once*, at one position, from
cached lower-layer maps, instead of re-running the network over the whole image for every
sub-pixel. Caches are zero-padded maps, so reading a k x k window at a border sees the same zeros
the full network's 'same' padding does, and positions not computed yet are zero but masked out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gen_autoregressive.masks import MaskedConv2d


class Conv:
    """A (masked) convolution's weights frozen and flattened, to evaluate it at one position."""

    def __init__(self, conv: nn.Conv2d):
        weight = conv.masked_weight() if isinstance(conv, MaskedConv2d) else conv.weight
        weight = weight.detach()
        self.out_features = weight.shape[0]
        self.kh, self.kw = weight.shape[2:]
        self.kernel = weight  # (out, in, kh, kw), mask applied
        self.weight = weight.flatten(1).t().contiguous()  # (in * kh * kw, out)
        self.bias = None if conv.bias is None else conv.bias.detach()

    def buffer(self, n: int, size: int, like: torch.Tensor) -> torch.Tensor:
        """A zeroed (n, in, size + 2 * (kh // 2), size + 2 * (kw // 2)) cache of this layer's
        input, padded so `at` reads whole windows."""
        features = self.weight.shape[0] // (self.kh * self.kw)
        shape = (n, features, size + self.kh - 1, size + self.kw - 1)
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    def at(self, buf: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """The output (N, out) at image position (i, j), reading input cache ``buf``."""
        window = buf[:, :, i : i + self.kh, j : j + self.kw]
        return self.pointwise(window.reshape(buf.shape[0], -1))

    def row(self, buf: torch.Tensor, i: int) -> torch.Tensor:
        """The outputs (N, out, W) along image row ``i``, reading input cache ``buf``."""
        return F.conv2d(buf[:, :, i : i + self.kh], self.kernel, self.bias)[:, :, 0]

    def pointwise(self, v: torch.Tensor) -> torch.Tensor:
        """A 1x1 convolution applied to feature vectors (N, in)."""
        out = v @ self.weight
        return out if self.bias is None else out + self.bias


def write(buf: torch.Tensor, conv: Conv, i: int, j: int, value: torch.Tensor) -> None:
    """Store ``value`` (N, F) at image position (i, j) of ``conv``'s padded input cache."""
    buf[:, :, i + conv.kh // 2, j + conv.kw // 2] = value
