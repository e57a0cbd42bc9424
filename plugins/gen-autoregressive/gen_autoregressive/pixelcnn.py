"""PixelCNN: van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
section 3.5, with the residual blocks of Figure 5 (right).

A 7x7 mask-A convolution (it must not see the sub-pixel it predicts), residual blocks of
ReLU -> 1x1 (2h -> h) -> ReLU -> 3x3 mask B -> ReLU -> 1x1 (h -> 2h) added to their input, then
ReLU -> 1x1 -> ReLU -> 1x1 to the outputs, every 1x1 mask B on the colour groups. Stacked masked
3x3 convolutions leave a blind spot to the upper right (fixed by the Gated PixelCNN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import gen
from gen_autoregressive.base import AutoregressiveModel, CachedStepper, Stepper
from gen_autoregressive.fast import Conv, write
from gen_autoregressive.masks import MaskedConv2d, channel_groups
from gen_autoregressive.specs import PixelCNNSpec


class ResidualBlock(nn.Module):
    def __init__(self, stream: torch.Tensor, hidden: torch.Tensor):
        super().__init__()
        self.reduce = MaskedConv2d(stream, hidden, 1, "B")
        self.conv = MaskedConv2d(hidden, hidden, 3, "B")
        self.expand = MaskedConv2d(hidden, stream, 1, "B")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(F.relu(self.reduce(F.relu(x))))
        return x + self.expand(F.relu(h))


class PixelCNNNet(nn.Module):
    """Images (N, C, H, W) -> outputs (N, C * K, H, W), K per sub-pixel."""

    def __init__(self, channels: int, outputs: int, hidden: int, blocks: int, output_hidden: int):
        super().__init__()
        self.num_classes = None
        groups = lambda n: channel_groups(n, channels)  # noqa: E731
        self.input = MaskedConv2d(groups(channels), groups(2 * hidden), 7, "A")
        self.blocks = nn.ModuleList(
            ResidualBlock(groups(2 * hidden), groups(hidden)) for _ in range(blocks)
        )
        self.out1 = MaskedConv2d(groups(2 * hidden), groups(output_hidden), 1, "B")
        self.out2 = MaskedConv2d(groups(output_hidden), groups(channels * outputs), 1, "B")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        a = self.input(x)
        for block in self.blocks:
            a = block(a)
        return self.out2(F.relu(self.out1(F.relu(a))))


class PixelCNN(AutoregressiveModel):
    def build_net(self, spec: PixelCNNSpec, data: gen.DataInfo, num_classes: int | None):
        return PixelCNNNet(data.channels, self.head.outputs, spec.hidden, spec.blocks,
                           spec.output_hidden)

    def fast_stepper(self, n: int, labels: torch.Tensor | None) -> Stepper:
        return PixelCNNStepper(self, n, labels)


class PixelCNNStepper(CachedStepper):
    """Cached sampling: every layer evaluated at the one position being sampled, reading the
    cached inputs of the 7x7 and 3x3 convolutions (Ramachandran et al. 2017). One column of
    the network per sub-pixel instead of the whole image."""

    def __init__(self, model: PixelCNN, n: int, labels: torch.Tensor | None):
        super().__init__(model, n, labels)
        net, size = model.net, model.data.image_size
        self.blocks = [(Conv(b.reduce), Conv(b.conv), Conv(b.expand)) for b in net.blocks]
        self.cache = [conv.buffer(n, size, self.x) for _, conv, _ in self.blocks]

    def logits(self, i: int, j: int, c: int) -> torch.Tensor:
        a = self.input.at(self.image, i, j)
        for (reduce, conv, expand), cache in zip(self.blocks, self.cache, strict=True):
            write(cache, conv, i, j, F.relu(reduce.pointwise(F.relu(a))))
            a = a + expand.pointwise(F.relu(conv.at(cache, i, j)))
        return self.head(a, c)
