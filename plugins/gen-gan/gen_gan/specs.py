"""Specs of the adversarial family, with the papers' defaults. Pydantic only (no torch).

Every model is an *objective* (its losses and update rule) on a *backbone* (its networks),
chosen independently with ``model.backbone``; each model defaults to its paper's backbone.
Combinations that cannot work (batch norm in a gradient-penalty critic, a backbone at an image
size it cannot build) are spec errors naming both fields (`AdversarialSpec.check_data`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, get_args

from pydantic import Field, field_validator, model_validator

import gen
from gen_gan import spec_options as opt
from gen_gan.spec_options import Conditioning

DiffAugmentPolicy = Literal["color", "translation", "cutout"]
DIFFAUGMENT_POLICIES: tuple[str, ...] = get_args(DiffAugmentPolicy)
Backbone = Literal["mlp", "dcgan", "resnet"]
Norm = Literal["batch", "layer", "none"]
# The smallest image each backbone builds (both convolutional ones need powers of two).
SMALLEST = {"dcgan": 8, "resnet": 16}


def _adam(lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)) -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=lr, betas=betas)


class AdversarialSpec(gen.ModelSpec):
    """Fields every gen-gan model has. One optimizer spec builds both networks' optimizers,
    unless d_optimizer / g_optimizer give one its own."""

    latent_dim: int = Field(100, gt=0, description="size of z ~ N(0, I)")
    optimizer: gen.OptimizerSpec = Field(default_factory=_adam)
    d_optimizer: gen.OptimizerSpec | None = opt.D_OPTIMIZER
    g_optimizer: gen.OptimizerSpec | None = opt.G_OPTIMIZER
    conditioning: Conditioning = opt.conditioning_field()
    backbone: Backbone = Field(
        "dcgan",
        description="the networks, independent of the objective (the model): mlp (fully "
        "connected on flattened images, any image_size; g_hidden, d_hidden, dropout), dcgan "
        "(Radford et al. 2015: strided convolutions, image_size a power of two >= 8; "
        "g_features, d_features), resnet (the ResNet generator and discriminator of Miyato et "
        "al. 2018 / Gulrajani et al. 2017, image_size a power of two >= 16; every block "
        "g_features / d_features wide, 256 / 128 in the papers). Default: the model's paper's",
    )
    spectral_norm: bool = Field(
        False,
        description="spectral normalisation (Miyato et al. 2018) of every convolution and "
        "linear layer of the discriminator, with torch's parametrisation (one power iteration "
        "per forward pass; its state is saved in checkpoints); d_norm then defaults to none",
    )
    d_norm: Norm | None = Field(
        None,
        description="normalisation in the discriminator's hidden layers: batch, layer (over "
        "each image's features) or none. Default (null): batch on the dcgan backbone (layer "
        "for a gradient-penalty critic), none on mlp and resnet and with spectral_norm. Batch "
        "norm in a gradient-penalty critic is refused (it mixes the images of a batch)",
    )
    g_hidden: list[int] = Field([256, 512, 1024], min_length=1,
                                description="mlp backbone: generator widths")
    d_hidden: list[int] = Field([1024, 512, 256], min_length=1,
                                description="mlp backbone: discriminator widths")
    dropout: float = Field(0.3, ge=0, lt=1, description="mlp backbone: dropout in the "
                           "discriminator")
    g_features: int = Field(64, gt=0, description="dcgan and resnet backbones: generator "
                            "width (dcgan: at its last hidden layer; resnet: every block)")
    d_features: int = Field(64, gt=0, description="dcgan and resnet backbones: discriminator "
                            "width (dcgan: at its first layer; resnet: every block)")
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
    r1_gamma: float = opt.R1_GAMMA
    r2_gamma: float = opt.R2_GAMMA
    reg_every: int = opt.REG_EVERY
    lecam_weight: float = opt.LECAM_WEIGHT
    lecam_decay: float = opt.LECAM_DECAY
    ada_target: float | None = opt.ADA_TARGET
    ada_interval: int = opt.ADA_INTERVAL
    ada_kimg: float = opt.ADA_KIMG

    # Whether the discriminator is a critic held to a per-image gradient penalty (wgan-gp).
    gradient_penalty: ClassVar[bool] = False

    @classmethod
    def upgrade(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Runs trained before ``train.ema`` set ``model.ema_decay``: it is ``train.ema``
        with that decay (and the warm-up those runs had), unless train.ema is set too."""
        model = raw.get("model")
        if isinstance(model, dict) and "ema_decay" in model:
            decay = model.pop("ema_decay")
            train = raw.setdefault("train", {})
            if decay is not None and isinstance(train, dict):
                train.setdefault("ema", {"decay": decay})
        return raw

    @classmethod
    def data_defaults_for(cls, model: Mapping[str, Any]) -> dict[str, Any]:
        """The mlp backbone defaults to MNIST's own 28x28; the convolutional ones to the
        core's 32x32 (they need powers of two)."""
        backbone = model.get("backbone", cls.model_fields["backbone"].default)
        return {"image_size": 28} if backbone == "mlp" else {}

    @property
    def discriminator_norm(self) -> Norm:
        """``d_norm``, or its default for this objective, backbone and spectral_norm. Resolved
        here rather than written into the spec, so a spec printed by `gen spec` and edited to
        another backbone gets that backbone's default (spec.json keeps null: the default)."""
        if self.d_norm is not None:
            return self.d_norm
        if self.backbone != "dcgan" or self.spectral_norm:
            return "none"
        return "layer" if self.per_image_penalty else "batch"

    @property
    def per_image_penalty(self) -> str | None:
        """The field that holds the discriminator's input gradient per image (wgan-gp's
        penalty, R1, R2), which batch norm would make ill-defined; None if nothing does."""
        if self.gradient_penalty:
            return "model.name"
        if self.r1_gamma > 0:
            return "model.r1_gamma"
        return "model.r2_gamma" if self.r2_gamma > 0 else None

    def needs_labels(self) -> str | None:
        return None if self.conditioning == "none" else f"model.conditioning={self.conditioning}"

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """The backbone against data.image_size, and the discriminator's normalisation
        against the objective."""
        problems = []
        size, smallest = data.image_size, SMALLEST.get(self.backbone)
        if smallest is not None and (size < smallest or size & (size - 1)):
            problems.append(("data.image_size", f"model.backbone {self.backbone} needs a power "
                             f"of two >= {smallest} (got {size}); use 32, or model.backbone "
                             "mlp for any size"))
        penalty = self.per_image_penalty
        if penalty and self.discriminator_norm == "batch":
            owner = (f"model.name {self.name}" if penalty == "model.name"
                     else f"{penalty} {getattr(self, penalty.split('.')[1])}")
            problems.append(("model.d_norm", f"batch norm mixes the images of a batch, so the "
                             f"per-image gradient penalty of {owner} would be ill-defined: "
                             "use layer or none"))
        return problems + opt.stability_problems(self)

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
    backbone: Backbone = Field("mlp", description=AdversarialSpec.model_fields["backbone"]
                               .description)


class DCGANSpec(AdversarialSpec):
    """Radford et al. 2015, section 3 and 4: Adam lr 2e-4, beta1 0.5, z of size 100. The same
    objective as gan, on the convolutional backbone by default."""

    name: Literal["dcgan"] = "dcgan"


class LSGANSpec(AdversarialSpec):
    """Mao et al. 2017, eq. 2 with the 0-1 coding of eq. 10 by default; (a, b, c) = (-1, 1, 0)
    is eq. 9, the setting that minimises the Pearson chi-squared divergence. Adam 2e-4, betas
    (0.5, 0.999): the DCGAN optimizer the family shares, not a learning rate from the paper's
    experiments."""

    name: Literal["lsgan"] = "lsgan"
    a: float = Field(0.0, description="the discriminator's target for fake images")
    b: float = Field(1.0, description="the discriminator's target for real images")
    c: float = Field(1.0, description="the value the generator wants D to give its fakes")


class HingeSpec(AdversarialSpec):
    """The hinge loss of Lim & Ye 2017 and Miyato et al. 2018 (SNGAN, also SAGAN and BigGAN).
    Adam(2e-4, betas (0.5, 0.999)), the family's DCGAN optimizer, on the dcgan backbone by
    default; SNGAN is this objective with model.backbone=resnet and model.spectral_norm=true
    (whose paper trains with Adam(2e-4, betas (0, 0.9)) and n_critic 5)."""

    name: Literal["hinge"] = "hinge"
    n_critic: int = Field(1, gt=0, description="discriminator updates per generator update "
                          "(SNGAN's resnet: 5)")


def _rmsprop() -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="rmsprop", lr=5e-5)


class WGANSpec(AdversarialSpec):
    """Arjovsky et al. 2017, Algorithm 1 defaults: RMSProp lr 5e-5, c = 0.01, n_critic = 5. The
    critic has no dropout: it estimates a distance, and dropout would make it a random one."""

    name: Literal["wgan"] = "wgan"
    n_critic: int = Field(5, gt=0, description="critic updates per generator update")
    clip: float = Field(0.01, gt=0, description="critic weights are clipped to [-clip, clip]")
    optimizer: gen.OptimizerSpec = Field(default_factory=_rmsprop)
    dropout: float = Field(0.0, ge=0, lt=1, description="mlp backbone: dropout in the critic")

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """As every model's, and spectral_norm is refused: it would undo the weight clipping."""
        problems = super().check_data(data)
        if self.spectral_norm:
            problems.append(("model.spectral_norm", "model.name wgan clips the critic's weights "
                             "(model.clip) to bound its Lipschitz constant; spectral "
                             "normalisation would rescale the clipped weights and undo that: "
                             "use one of the two (e.g. wgan-gp or dcgan with spectral_norm)"))
        return problems


class WGANGPSpec(AdversarialSpec):
    """Gulrajani et al. 2017, Algorithm 1 defaults: lambda = 10, n_critic = 5, Adam lr 1e-4,
    betas (0, 0.9); no batch norm in the critic, layer norm instead on the dcgan backbone
    (section 4), none on mlp and resnet (their reference code)."""

    name: Literal["wgan-gp"] = "wgan-gp"
    n_critic: int = Field(5, gt=0, description="critic updates per generator update")
    gp_weight: float = Field(10.0, ge=0, description="lambda, the gradient penalty weight (eq. 3)")
    optimizer: gen.OptimizerSpec = Field(default_factory=lambda: _adam(1e-4, (0.0, 0.9)))
    dropout: float = Field(0.0, ge=0, lt=1, description="mlp backbone: dropout in the critic")

    gradient_penalty: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _critic_norm_is_d_norm(cls, data: Any) -> Any:
        """Runs trained before model.d_norm called it critic_norm; their specs still load."""
        if isinstance(data, dict) and "critic_norm" in data:
            data = dict(data)
            norm = data.pop("critic_norm")
            data.setdefault("d_norm", norm)
        return data


class CGANSpec(AdversarialSpec):
    """Mirza & Osindero 2014 on the DCGAN backbone. The paper's MLPs with maxout and its
    SGD schedule do not carry over; Adam(2e-4, beta1 0.5) as in Radford et al. 2015."""

    name: Literal["cgan"] = "cgan"
    conditioning: Literal["concat"] = opt.conditioning_field("concat")


class ACGANSpec(AdversarialSpec):
    """Odena et al. 2017 on the DCGAN backbone; Adam lr 2e-4, beta1 0.5 (appendix)."""

    name: Literal["acgan"] = "acgan"
    conditioning: Literal["auxiliary"] = opt.conditioning_field("auxiliary")
