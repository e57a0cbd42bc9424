"""Glow: Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions".

L levels (section 3, Figure 2b): each squeezes, applies K steps of flow (actnorm with
data-dependent initialisation, an LU-decomposed invertible 1x1 convolution, an affine coupling
with scale sigmoid(raw + 2) and zero-initialised last convolution, as in the paper's code)
and, but for the last, splits off half of the channels. The factored-out halves have a
learned conditional Gaussian prior (the code's ``split2d``: mean and log-scale from a
zero-initialised convolution of the kept half), or N(0, I) with ``split_prior="standard"``;
the top prior is N(0, I). Dequantised images v in [0, 1) enter as v - 0.5 (log-determinant 0),
as in the paper's code. Sampling scales the priors' standard deviations by a temperature
(section 5, Figure 8).

Departures from the paper: the coupling networks have no actnorm of their own (biased
convolutions instead), no learned top prior, and they are far smaller by default.

Paper figures: 3.35 bits/dim on CIFAR-10, 1.05 on MNIST (Table 2).
"""

from __future__ import annotations

import torch

import gen
from gen_flow.base import FlowModel
from gen_flow.layers import ActNorm, FlowStep, GlowCoupling, InvConv1x1, MultiScale, Split, Squeeze
from gen_flow.specs import GlowSpec


def build_glow(channels: int, size: int, levels: int, steps: int, hidden: int,
               learned_prior: bool = True) -> MultiScale:
    """The multi-scale Glow flow for (channels, size, size) inputs."""
    c, s = channels, size
    blocks, splits, shapes = [], [], []
    for i in range(levels):
        c, s = 4 * c, s // 2
        layers: list = [Squeeze()]
        for _ in range(steps):
            layers += [ActNorm(c), InvConv1x1(c), GlowCoupling(c, hidden)]
        blocks.append(FlowStep(*layers))
        if i < levels - 1:
            splits.append(Split(c, learned=learned_prior))
            c //= 2
        else:
            splits.append(None)
        shapes.append((c, s, s))
    return MultiScale(blocks, splits, shapes)


class Glow(FlowModel):
    def build_flow(self, spec: GlowSpec, data: gen.DataInfo) -> MultiScale:
        return build_glow(data.channels, data.image_size, spec.levels, spec.steps, spec.hidden,
                          spec.split_prior == "learned")

    def preprocess(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return v - 0.5, v.new_zeros(v.shape[0])

    def postprocess(self, y: torch.Tensor) -> torch.Tensor:
        return y + 0.5
