"""Classifier-free guidance (Ho & Salimans 2022), in one place for every sampler: the network
and the labels become the prediction function a sampler calls.

Convention: pred = uncond + s (cond - uncond). s = 0 is the unconditional prediction, s = 1 the
conditional one, s > 1 extrapolates away from the unconditional model; Ho & Salimans' w is
s - 1 (their Eq. 6, eps~ = (1 + w) eps(z, c) - w eps(z)). At s = 0 or s = 1 only one branch is
evaluated (so those are exact and cost one network call); otherwise both run as one batch of
2N and cost two calls per image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gen_diffusion.samplers import Predict


def calls_per_step(conditional: bool, scale: float) -> int:
    """Network evaluations per image per sampler call of the function `guided` builds."""
    return 2 if conditional and scale not in (0.0, 1.0) else 1


def guided(net: nn.Module, labels: torch.Tensor | None, scale: float,
           time_scale: float = 1.0) -> Predict:
    """``net(x, t * time_scale, labels)`` as a prediction function of (x, t), guided with
    ``scale`` when ``labels`` are given (an unconditional network: labels None)."""
    def call(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return net(x, t * time_scale, y)

    if labels is None or scale == 1.0:
        return lambda x, t: call(x, t, labels)
    null = torch.full_like(labels, net.num_classes)
    if scale == 0.0:
        return lambda x, t: call(x, t, null)
    return _mixed(call, labels, null, scale)


def _mixed(call: Callable, labels: torch.Tensor, null: torch.Tensor, scale: float) -> Predict:
    both = torch.cat([labels, null])

    def predict(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        cond, uncond = call(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
        return uncond + scale * (cond - uncond)

    return predict
