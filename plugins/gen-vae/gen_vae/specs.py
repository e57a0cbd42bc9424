"""Specs of the variational family. Pydantic only (no torch).

Defaults follow the VAE literature on binarised MNIST: 28x28 images binarised anew for every
batch (dynamic binarisation, the protocol of Burda et al. 2016 and most later work; with only
the bundled 9,000 training images it also acts as a regulariser), Adam with learning rate 1e-3
(Burda et al. 2016, section 5). For 8-bit data set ``data.binarize`` to ``"none"``: the decoder
then uses a discretised logistic likelihood instead of a Bernoulli one.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

import gen


def _adam() -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=1e-3, betas=(0.9, 0.999))


class VariationalSpec(gen.ModelSpec):
    """Fields shared by `vae` and `cvae`."""

    latent_dim: int = Field(32, gt=0, description="size of z; the prior is N(0, I)")
    features: int = Field(
        32, gt=0, description="channels of the first convolution (doubled by the second)"
    )
    hidden: int = Field(256, gt=0, description="width of the fully connected layer on each side")
    beta: float = Field(
        1.0, gt=0,
        description="weight of the KL term in the training loss (beta-VAE, Higgins et al. "
        "2017); log_prob always reports the true ELBO (beta = 1)",
    )
    optimizer: gen.OptimizerSpec = Field(default_factory=_adam)

    data_defaults: ClassVar[dict] = {"image_size": 28, "binarize": "dynamic"}


class VAESpec(VariationalSpec):
    """Kingma & Welling 2014, "Auto-Encoding Variational Bayes", with convolutional networks."""

    name: Literal["vae"] = "vae"


class CVAESpec(VariationalSpec):
    """Sohn, Lee & Yan 2015, "Learning Structured Output Representation using Deep Conditional
    Generative Models": q(z|x, y) and p(x|z, y) both see the class label."""

    name: Literal["cvae"] = "cvae"
