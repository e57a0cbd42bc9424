"""How every backbone is conditioned on a label, the same way whatever the networks: the
generator gets the one-hot label concatenated to z (Mirza & Osindero 2014, section 4.1; Odena et
al. 2017, section 3); a cgan discriminator sees it joined to the image at its input
(`LabelInputDiscriminator`, model.conditioning concat); an acgan discriminator predicts it
(`AuxiliaryClassifier`, auxiliary). The projection discriminator is `gen_gan.backbones.
projection`; the resnet generator adds class-conditional batch norm (`gen_gan.backbones.
resnet.ConditionalBatchNorm2d`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def with_label(z: torch.Tensor, y: torch.Tensor | None, num_classes: int | None) -> torch.Tensor:
    """z, with the one-hot label appended when the network is conditional."""
    if num_classes is None:
        return z
    if y is None:
        raise ValueError("this generator is conditional: pass the labels y")
    return torch.cat([z, F.one_hot(y, num_classes).to(z.dtype)], dim=1)


class LabelInputDiscriminator(nn.Module):
    """D(x|y): ``net`` on the image joined with the one-hot label. A convolutional backbone gets
    num_classes constant label maps stacked on the image's channels, so every convolution can
    relate the image to its class; the mlp gets the one-hot vector appended to the flattened
    image (the same input to its first layer, without H x W copies of each label)."""

    def __init__(self, net: nn.Module, classes: int, flat: bool):
        super().__init__()
        self.num_classes = classes
        self.flat = flat
        self.net = net

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        label = F.one_hot(y, self.num_classes).to(x.dtype)
        if self.flat:
            return self.net(torch.cat([x.flatten(1), label], dim=1))
        maps = label[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, maps], dim=1))


class AuxiliaryClassifier(nn.Module):
    """image -> (adversarial logit (N,), class logits (N, num_classes)) from one network with
    1 + num_classes outputs; labels are ignored."""

    def __init__(self, net: nn.Module, classes: int):
        super().__init__()
        self.num_classes = classes
        self.net = net

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        return out[:, 0], out[:, 1:]
