"""Specs of the adversarial family, with the papers' defaults. Pydantic only (no torch)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import Field, field_validator

import gen

DiffAugmentPolicy = Literal["color", "translation", "cutout"]
DIFFAUGMENT_POLICIES: tuple[str, ...] = get_args(DiffAugmentPolicy)


def _adam(lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)) -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=lr, betas=betas)


class AdversarialSpec(gen.ModelSpec):
    """Fields every gen-gan model has. One optimizer spec builds both networks' optimizers."""

    latent_dim: int = Field(100, gt=0, description="size of z ~ N(0, I)")
    optimizer: gen.OptimizerSpec = Field(default_factory=_adam)
    ema_decay: float | None = Field(
        None, gt=0, lt=1,
        description="keep an exponential moving average of the generator weights with this "
        "decay (e.g. 0.999) and sample from it; off by default",
    )
    diffaugment: list[DiffAugmentPolicy] = Field(
        default_factory=list,
        description="DiffAugment (Zhao et al. 2020), for little data (e.g. data.limit=1000): "
        "these policies, in this order, augment real and fake images alike whenever the "
        "discriminator sees them, in both players' updates. color: random brightness, "
        "saturation, contrast; translation: shift by up to 1/8 of the size, zero fill; cutout: "
        "zero a random half-size square. Draws from the training RNG, so resume stays "
        "bit-identical. E.g. [\"color\", \"translation\", \"cutout\"] (or the string "
        "\"color,translation,cutout\"); empty = off",
    )

    @field_validator("diffaugment", mode="before")
    @classmethod
    def _policy_string(cls, v: Any) -> Any:
        """``"color,translation"`` (the reference's policy string; also what ``--set
        model.diffaugment=[color,translation]`` gives, unquoted names not being JSON) is a list."""
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            return [p.strip().strip("'\"") for p in text.split(",") if p.strip()]
        return v

    @field_validator("diffaugment")
    @classmethod
    def _each_policy_once(cls, v: list[str]) -> list[str]:
        repeated = sorted({p for p in v if v.count(p) > 1})
        if repeated:
            raise ValueError(f"each policy at most once (repeated: {', '.join(repeated)}); "
                             f"allowed: {', '.join(DIFFAUGMENT_POLICIES)}")
        return v


class GANSpec(AdversarialSpec):
    """Goodfellow et al. 2014 with MLPs on flattened images.

    The paper trained maxout networks with SGD and momentum; that schedule does not carry over to
    the ReLU/LeakyReLU MLPs used here, so the optimizer defaults to Adam(2e-4, betas 0.5/0.999),
    the setting later work (Radford et al. 2015) found stable.
    """

    name: Literal["gan"] = "gan"
    g_hidden: list[int] = Field([256, 512, 1024], min_length=1, description="generator widths")
    d_hidden: list[int] = Field([1024, 512, 256], min_length=1, description="discriminator widths")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout in the discriminator")

    data_defaults: ClassVar[dict] = {"image_size": 28}


class ConvSpec(AdversarialSpec):
    """The DCGAN backbone every convolutional model here is built on."""

    g_features: int = Field(64, gt=0, description="generator width at its last hidden layer")
    d_features: int = Field(64, gt=0, description="discriminator width at its first layer")

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """data.image_size must be a power of two >= 8 (4x4 doubled by each block)."""
        size = data.image_size
        if size < 8 or size & (size - 1):
            return [("data.image_size", f"{self.name} needs a power of two >= 8 (got {size})")]
        return []


class DCGANSpec(ConvSpec):
    """Radford et al. 2015, section 3 and 4: Adam lr 2e-4, beta1 0.5, z of size 100."""

    name: Literal["dcgan"] = "dcgan"


class LSGANSpec(ConvSpec):
    """Mao et al. 2017, eq. 2 with the 0-1 coding of eq. 10 by default; (a, b, c) = (-1, 1, 0)
    is eq. 9, the setting that minimises the Pearson chi-squared divergence. Adam 2e-4, betas
    (0.5, 0.999): the DCGAN optimizer the family shares, not a learning rate from the paper's
    experiments."""

    name: Literal["lsgan"] = "lsgan"
    a: float = Field(0.0, description="the discriminator's target for fake images")
    b: float = Field(1.0, description="the discriminator's target for real images")
    c: float = Field(1.0, description="the value the generator wants D to give its fakes")


def _rmsprop() -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="rmsprop", lr=5e-5)


class WGANSpec(ConvSpec):
    """Arjovsky et al. 2017, Algorithm 1 defaults: RMSProp lr 5e-5, c = 0.01, n_critic = 5."""

    name: Literal["wgan"] = "wgan"
    n_critic: int = Field(5, gt=0, description="critic updates per generator update")
    clip: float = Field(0.01, gt=0, description="critic weights are clipped to [-clip, clip]")
    optimizer: gen.OptimizerSpec = Field(default_factory=_rmsprop)


class WGANGPSpec(ConvSpec):
    """Gulrajani et al. 2017, Algorithm 1 defaults: lambda = 10, n_critic = 5, Adam lr 1e-4,
    betas (0, 0.9); no batch norm in the critic, layer norm instead (section 4)."""

    name: Literal["wgan-gp"] = "wgan-gp"
    n_critic: int = Field(5, gt=0, description="critic updates per generator update")
    gp_weight: float = Field(10.0, ge=0, description="lambda, the gradient penalty weight (eq. 3)")
    critic_norm: Literal["layer", "none"] = Field(
        "layer", description="normalisation in the critic; batch norm would break the "
        "per-sample penalty"
    )
    optimizer: gen.OptimizerSpec = Field(default_factory=lambda: _adam(1e-4, (0.0, 0.9)))


class CGANSpec(ConvSpec):
    """Mirza & Osindero 2014 on the DCGAN backbone. The paper's MLPs with maxout and its
    SGD schedule do not carry over; Adam(2e-4, beta1 0.5) as in Radford et al. 2015."""

    name: Literal["cgan"] = "cgan"


class ACGANSpec(ConvSpec):
    """Odena et al. 2017 on the DCGAN backbone; Adam lr 2e-4, beta1 0.5 (appendix)."""

    name: Literal["acgan"] = "acgan"
