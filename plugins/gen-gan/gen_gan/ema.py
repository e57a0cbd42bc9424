"""An exponential moving average of the generator's weights, sampled from instead of the live
generator: averaging the iterates smooths the oscillation of adversarial training and gives
better samples at no training cost (Yazici et al. 2019, "The Unusual Effectiveness of Averaging
in GAN Training"; Karras et al. 2018 use decay 0.999)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def averaged_copy(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` to hold the average; it starts equal to the live weights."""
    return copy.deepcopy(module).requires_grad_(False)


@torch.no_grad()
def update(average: nn.Module, live: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * live for every parameter. Buffers (batch-norm
    running statistics) are copied, not averaged: they describe the live weights' activations."""
    for avg, new in zip(average.parameters(), live.parameters(), strict=True):
        avg.mul_(decay).add_(new, alpha=1 - decay)
    for avg, new in zip(average.buffers(), live.buffers(), strict=True):
        avg.copy_(new)
