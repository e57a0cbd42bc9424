"""Specs of the adversarial family, with the papers' defaults. Pydantic only (no torch)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

import gen


def _adam(lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)) -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=lr, betas=betas)


class GANSpec(gen.ModelSpec):
    """Goodfellow et al. 2014 with MLPs on flattened images.

    The paper trained maxout networks with SGD and momentum; that schedule does not carry over to
    the ReLU/LeakyReLU MLPs used here, so the optimizer defaults to Adam(2e-4, betas 0.5/0.999),
    the setting later work (Radford et al. 2015) found stable.
    """

    name: Literal["gan"] = "gan"
    latent_dim: int = Field(100, gt=0, description="size of z ~ N(0, I)")
    g_hidden: list[int] = Field([256, 512, 1024], min_length=1, description="generator widths")
    d_hidden: list[int] = Field([1024, 512, 256], min_length=1, description="discriminator widths")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout in the discriminator")
    optimizer: gen.OptimizerSpec = Field(default_factory=_adam)

    data_defaults: ClassVar[dict] = {"image_size": 28}


class DCGANSpec(gen.ModelSpec):
    """Radford et al. 2015, section 3 and 4: Adam lr 2e-4, beta1 0.5, z of size 100."""

    name: Literal["dcgan"] = "dcgan"
    latent_dim: int = Field(100, gt=0, description="size of z ~ N(0, I)")
    g_features: int = Field(64, gt=0, description="generator width at its last hidden layer")
    d_features: int = Field(64, gt=0, description="discriminator width at its first layer")
    optimizer: gen.OptimizerSpec = Field(default_factory=_adam)

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """data.image_size must be a power of two >= 8 (4x4 doubled by each block)."""
        size = data.image_size
        if size < 8 or size & (size - 1):
            return [("data.image_size", f"dcgan needs a power of two >= 8 (got {size})")]
        return []
