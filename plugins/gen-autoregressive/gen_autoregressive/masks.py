"""Masked convolutions: how every model of the family stays causal.

Pixels are ordered raster-then-channel: row by row, left to right, and within a pixel R -> G -> B
(van den Oord et al. 2016a, eq. 2). A convolution respects that order through its weight mask:

- spatially, an output at (i, j) reads the rows above and the pixels to its left (``"A"``/``"B"``),
  or every pixel of its own row and the rows above (``"vertical"``, the Gated PixelCNN's
  vertical stack, whose output is shifted down a row before anything causal reads it);
- at the centre tap, features are split into one group per colour channel (section 3.4,
  Figure 4): an output of group g reads inputs of groups < g (mask A, the first layer, which must
  not see the sub-pixel it predicts) or <= g (mask B, every later layer).

Group ids are explicit tensors so that a layer whose features are laid out in chunks (the two
halves of a gated unit, the four gates of an LSTM) keeps each chunk grouped the same way.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

MaskType = Literal["A", "B", "vertical"]


def channel_groups(features: int, channels: int) -> torch.Tensor:
    """Colour group of each of ``features`` features: contiguous blocks, R first."""
    return torch.arange(features) * channels // features


def build_mask(
    out_groups: torch.Tensor, in_groups: torch.Tensor, kernel: tuple[int, int], kind: MaskType
) -> torch.Tensor:
    """The (out, in, kh, kw) 0/1 mask of a ``kind`` convolution with odd ``kernel``."""
    kh, kw = kernel
    mask = torch.zeros(len(out_groups), len(in_groups), kh, kw)
    mask[:, :, : kh // 2] = 1  # the rows above
    if kind == "vertical":
        mask[:, :, kh // 2] = 1  # the whole centre row; shifted down before any causal use
        return mask
    mask[:, :, kh // 2, : kw // 2] = 1  # the pixels to the left
    centre = in_groups[None, :] < out_groups[:, None]
    if kind == "B":
        centre = in_groups[None, :] <= out_groups[:, None]
    mask[:, :, kh // 2, kw // 2] = centre.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution whose weight is multiplied by a fixed causal mask.

    ``in_groups`` / ``out_groups`` give each input / output feature's colour group (see
    `channel_groups`); only the centre tap of masks A and B looks at them.
    """

    def __init__(
        self,
        in_groups: torch.Tensor,
        out_groups: torch.Tensor,
        kernel: int | tuple[int, int],
        kind: MaskType,
        bias: bool = True,
    ):
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        if kh % 2 == 0 or kw % 2 == 0:
            raise ValueError(f"masked convolutions need odd kernels, got {kh}x{kw}")
        super().__init__(len(in_groups), len(out_groups), (kh, kw), padding=(kh // 2, kw // 2),
                         bias=bias)
        self.kind = kind
        self.in_groups = in_groups
        self.out_groups = out_groups
        self.register_buffer("mask", build_mask(out_groups, in_groups, (kh, kw), kind),
                             persistent=False)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias, padding=self.padding)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move a (N, F, H, W) map down one row, zeros entering at the top: row i then holds what
    row i - 1 computed, so it depends on rows < i only."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def gate(x: torch.Tensor) -> torch.Tensor:
    """The gated activation tanh(a) * sigmoid(b) of van den Oord et al. 2016b, eq. 2, on the two
    halves of the features."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)
