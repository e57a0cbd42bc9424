"""Specs of the diffusion family, pydantic only (no torch).

Both models train one U-Net (`gen_diffusion.backbones`) and sample with a sampler chosen at
sample time; the spec's ``sampler`` / ``sample_steps`` (/ ``eta``) / ``guidance`` are only the
defaults `gen sample --sampler/--steps/--eta/--guidance` override.

Default network, for a CPU: width 32, channel multipliers (1, 2, 2), one residual block per
level, attention at 8x8, no dropout: 1,112,801 parameters at 32x32 with one channel (MNIST);
25-50 training images/s (forward and backward) and about 75 network evaluations per image per
second when sampling, on one CPU thread (`torch.set_num_threads(1)`, batches of 32-64, an AMD
EPYC cloud VM shared with other jobs, hence the range). The papers' CIFAR-10 network (Ho et
al. 2020, appendix B; 35,746,307 parameters here, 35.7 M in the paper) is
``model.width=128 model.mults=[1,2,2,2] model.res_blocks=2 model.attention_resolutions=[16]
model.dropout=0.1``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

import gen


def _adam() -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=2e-4, betas=(0.9, 0.999))


class DiffusionSpec(gen.ModelSpec):
    """Fields both models share: the U-Net, conditioning and classifier-free guidance."""

    width: int = Field(32, gt=0, description="channels of the U-Net's first level (Ho et al. "
                       "2020: 128 on CIFAR-10); the time embedding has 4x as many")
    mults: list[int] = Field([1, 2, 2], min_length=1, description="channel multiplier per "
                             "level; with L levels the image is halved L - 1 times, so "
                             "data.image_size must be a multiple of 2 ** (L - 1) (paper: "
                             "[1, 2, 2, 2] at 32x32)")
    res_blocks: int = Field(1, gt=0, description="residual blocks per level (paper: 2)")
    attention_resolutions: list[int] = Field(
        [8], description="feature-map sizes that get self-attention after each residual "
        "block (paper: [16] at 32x32); the middle of the U-Net always has one")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout in every residual block "
                           "(paper: 0.1 on CIFAR-10)")
    conditional: bool = Field(False, description="condition on the data's class labels, "
                              "with classifier-free guidance (Ho & Salimans 2022)")
    label_dropout: float = Field(0.1, ge=0, le=1, description="conditional: the fraction of "
                                 "training labels replaced by the null class, which trains the "
                                 "unconditional branch guidance needs (paper: 0.1 or 0.2)")
    guidance: float = Field(
        1.0, ge=0, description="conditional: the default guidance scale s of pred = uncond + "
        "s (cond - uncond): 0 is unconditional, 1 conditional (one network call per step), "
        "s > 1 guided (two calls); Ho & Salimans' w is s - 1")
    optimizer: gen.OptimizerSpec = Field(default_factory=_adam,
                                         description="Adam, lr 2e-4 (Ho et al. 2020)")

    # DDPM samples from a weight average (decay 0.9999 in the paper; gen warms the decay up,
    # so short runs forget the random start) and clips gradients at norm 1 (Ho et al. 2020,
    # appendix B). The paper's 5000-step learning-rate warm-up is not a default: the core
    # refuses a warm-up longer than train.steps, which short runs set.
    train_defaults: ClassVar[dict[str, Any]] = {"ema": {"decay": 0.9999}, "grad_clip": 1.0}

    @field_validator("mults")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(m < 1 for m in v):
            raise ValueError(f"every multiplier must be >= 1 (got {v})")
        return v

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """data.image_size must be a multiple of 2 ** (L - 1) for a U-Net of L = len(mults)
        levels."""
        problem = size_problem(data.image_size, len(self.mults))
        problems = [("data.image_size", f"{problem}; set model.mults to fewer levels or "
                     "choose another size")] if problem else []
        if self.conditional and self.label_dropout == 0 and self.guidance != 1:
            problems.append(("model.guidance", "guidance mixes in the unconditional prediction, "
                             "which model.label_dropout=0 never trains: keep label_dropout > 0 "
                             "or guidance 1"))
        return problems


def size_problem(image_size: int, levels: int) -> str | None:
    """Why a U-Net of ``levels`` levels cannot take ``image_size`` images (None if it can);
    the same rule as `gen_diffusion.backbones.unet.UNet.size_problem`, without torch."""
    need = 2 ** (levels - 1)
    if image_size < 1 or image_size % need:
        return (f"a U-Net with {levels} levels (model.mults) halves the image {levels - 1} "
                f"times, so the size must be a multiple of {need} (got {image_size})")
    return None


class DDPMSpec(DiffusionSpec):
    """DDPM (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"): a U-Net predicts the
    noise in x_t ~ q(x_t | x_0) for t ~ U{1..T}, trained on L_simple = ||eps - eps(x_t, t)||^2
    (Eq. 14, Algorithm 1). Paper, CIFAR-10, T = 1000, linear betas 1e-4..0.02: FID 3.17,
    IS 9.46 with L_simple, whose test NLL is <= 3.75 bits/dim; <= 3.70 for the model trained
    on the true bound (Table 1: NLL test, train in brackets). DDIM with 50
    steps and eta = 0 on the same kind of model: FID 4.67 (Song et al. 2021, Table 1).

    Default sampler: DDIM, 50 steps, eta 0 (50 network calls per image, affordable for sample
    grids on a CPU); ancestral with 1000 steps is the paper's."""

    name: Literal["ddpm"] = "ddpm"
    timesteps: int = Field(1000, ge=2, description="T, the diffusion steps (paper: 1000)")
    schedule: Literal["linear", "cosine"] = Field(
        "linear", description="linear betas (Ho et al. 2020: 1e-4 to 0.02 at T = 1000, scaled "
        "by 1000 / T otherwise) or cosine (Nichol & Dhariwal 2021, s = 0.008, betas <= 0.999)")
    sampler: Literal["ancestral", "ddim"] = Field(
        "ddim", description="default sampler: ancestral (Ho et al. 2020, Algorithm 2) or ddim "
        "(Song et al. 2021)")
    sample_steps: int = Field(50, gt=0, description="default sampling steps (<= timesteps; "
                              "fewer than T respaces the schedule)")
    eta: float = Field(0.0, ge=0, le=1, description="default DDIM eta: 0 deterministic, 1 "
                       "ancestral")

    def check_data(self, data: gen.DataSpec) -> list[tuple[str, str]]:
        """data.image_size must be a multiple of 2 ** (L - 1) for a U-Net of L = len(mults)
        levels, and model.sample_steps at most model.timesteps."""
        problems = super().check_data(data)
        if self.sample_steps > self.timesteps:
            problems.append(("model.sample_steps", f"at most model.timesteps "
                             f"({self.timesteps}); got {self.sample_steps}"))
        return problems


class FlowMatchingSpec(DiffusionSpec):
    """Flow matching (Lipman et al. 2023, "Flow Matching for Generative Modeling"; Liu et al.
    2022, "Flow Straight and Fast", rectified flow): the U-Net regresses the velocity x_1 - x_0
    of the straight path x_t = (1 - t) x_0 + t x_1 from noise x_0 to data x_1, t ~ U(0, 1)
    (the conditional flow matching loss, Lipman et al. Eq. 23 with sigma_min = 0); samples
    integrate dx/dt = v(x, t) from t = 0 to 1. No likelihood (computing it would need the
    divergence of v along the ODE).

    Default sampler: Heun, 25 steps (50 network calls per image, as DDIM's default)."""

    name: Literal["flow-matching"] = "flow-matching"
    sampler: Literal["euler", "heun"] = Field(
        "heun", description="default ODE solver: euler (one call per step) or heun (two)")
    sample_steps: int = Field(25, gt=0, description="default solver steps from t = 0 to 1")
