"""Specs of the flow family. Pydantic only (no torch).

Both flows model 8-bit images (or binarised ones, with ``data.binarize``) through uniform
dequantisation, so their likelihoods are lower bounds on the discrete log-probability and
comparable with the exact ones of the autoregressive family in bits per dimension. The
papers' networks are far wider and deeper than is practical on a CPU; each docstring gives the
paper's size next to the default, and the fields scale a model up to it.

Reference figures (test bits/dim): RealNVP 3.49 on CIFAR-10 (Dinh et al. 2017, Table 1);
Glow 3.35 on CIFAR-10 and 1.05 on MNIST (Kingma & Dhariwal 2018, Table 2).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

import gen


def _adam() -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=1e-3, betas=(0.9, 0.999))


def _power_of_two(size: int) -> bool:
    return size >= 1 and not size & (size - 1)


class FlowSpec(gen.ModelSpec):
    """Fields shared by `realnvp` and `glow`."""

    hidden: int = Field(64, gt=0, description="features of the hidden layers of every coupling "
                        "network")
    warmup_steps: int = Field(
        100, ge=0, description="the learning rate rises linearly from lr / warmup_steps to lr "
        "over the first warmup_steps steps (0: none)"
    )
    optimizer: gen.OptimizerSpec = Field(
        default_factory=_adam, description="Adam, lr 1e-3 (Glow's code used 1e-3 with warm-up)"
    )

    def squeezes(self) -> int:
        """How many times the flow halves the image size."""
        raise NotImplementedError

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """data.image_size must be a power of two that the multi-scale architecture can halve
        as often as it squeezes."""
        problem = self.size_problem(data.image_size)
        return [("data.image_size", problem)] if problem else []

    def size_problem(self, size: int) -> str | None:
        """Why images of ``size`` x ``size`` do not fit this flow, or None when they do."""
        need = 2 ** max(self.squeezes(), 1)
        if not _power_of_two(size) or size < need:
            return f"{self.name} {self._levels_text()} needs a power of two >= {need} (got {size})"
        return None

    def _levels_text(self) -> str:
        raise NotImplementedError


class RealNVPSpec(FlowSpec):
    """RealNVP (Dinh, Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP"),
    section 3.6: each scale but the last applies three affine couplings with alternating
    checkerboard masks, a squeeze, three couplings with alternating channel-wise masks, and
    factors out half of the channels (standard-normal prior); the last scale applies four
    checkerboard couplings (channel-wise where the map is 1x1). Scales are s = scale * tanh(raw)
    with a learned scale per channel; coupling networks are ResNets without batch or weight
    normalisation, their last convolution zero-initialised, so the flow starts as the identity.
    Images are dequantised and logit-transformed, y = logit(alpha + (1 - 2 alpha) v)
    (section 4.1), its log-determinant included.

    Paper (CIFAR-10, 3.49 bits/dim): 8 residual blocks of 64 features, 2 scales.
    Default: 2 scales, 1 residual block of 32 features, for a CPU.
    """

    name: Literal["realnvp"] = "realnvp"
    scales: int = Field(2, ge=1, le=8, description="scales of the multi-scale architecture; "
                        "each but the last halves the image size and factors out half")
    blocks: int = Field(1, ge=0, description="residual blocks in each coupling network")
    hidden: int = Field(32, gt=0, description="features of every coupling network")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="the logit transform's alpha: "
                         "y = logit(alpha + (1 - 2 alpha) v) for dequantised v in [0, 1)")

    def squeezes(self) -> int:
        return self.scales - 1

    def _levels_text(self) -> str:
        return f"with {self.scales} scales"


class GlowSpec(FlowSpec):
    """Glow (Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions"),
    section 3 and Figure 2: L levels, each a squeeze, K steps of flow (actnorm with
    data-dependent initialisation, an LU-decomposed invertible 1x1 convolution, an affine
    coupling with scale sigmoid(raw + 2)) and, but for the last level, a split that factors out
    half of the channels. Coupling networks: 3x3 conv, ReLU, 1x1 conv, ReLU, zero-initialised
    3x3 conv (no actnorm inside). Images are dequantised to v in [0, 1) and shifted to
    v - 0.5, as in the paper's code; the top prior is N(0, I).

    Paper: K = 32, L = 3, 512 hidden features (CIFAR-10, 3.35 bits/dim; MNIST 1.05).
    Default: K = 4, L = 3, 64 features, for a CPU.
    """

    name: Literal["glow"] = "glow"
    levels: int = Field(3, ge=1, le=8, description="L: levels; each squeezes (halving the "
                        "image size) and all but the last factor out half")
    steps: int = Field(4, ge=1, description="K: steps of flow per level")
    split_prior: Literal["learned", "standard"] = Field(
        "learned", description="prior of each factored-out half: a Gaussian whose mean and "
        "scale a zero-initialised 3x3 convolution computes from the kept half (the paper's "
        "code), or N(0, I)"
    )

    def squeezes(self) -> int:
        return self.levels

    def _levels_text(self) -> str:
        return f"with {self.levels} levels"

