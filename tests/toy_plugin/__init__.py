"""A throwaway plugin for the core's tests: a tiny adversarial model that trains in
milliseconds. Registration and spec only here, so discovery still imports no torch."""

from typing import ClassVar, Literal

from pydantic import Field

import gen


class ToySpec(gen.ModelSpec):
    name: Literal["toy"] = "toy"
    latent_dim: int = Field(4, gt=0)
    hidden: int = Field(16, gt=0)
    lr: float = Field(1e-2, gt=0)
    explode_at: int | None = Field(None, description="tests: weights become NaN at this step")
    data_defaults: ClassVar[dict] = {"image_size": 8, "limit": 256}


class ToyDensitySpec(gen.ModelSpec):
    name: Literal["toy-density"] = "toy-density"
    lr: float = Field(0.1, gt=0)
    data_defaults: ClassVar[dict] = {"image_size": 8, "limit": 256, "binarize": "static"}


class ToyVAESpec(gen.ModelSpec):
    name: Literal["toy-vae"] = "toy-vae"
    latent_dim: int = Field(3, gt=0)
    lr: float = Field(1e-2, gt=0)
    data_defaults: ClassVar[dict] = {"image_size": 8, "limit": 256, "binarize": "static"}


@gen.hookimpl
def gen_register_models(register):
    register(name="toy", kind="adversarial", summary="A tiny test model",
             spec="toy_plugin:ToySpec", model="toy_plugin.model:Toy")
    register(name="toy-density", kind="autoregressive", summary="Independent Bernoulli pixels",
             spec="toy_plugin:ToyDensitySpec", model="toy_plugin.density:ToyDensity")
    register(name="toy-vae", kind="latent-variable", summary="A linear VAE",
             spec="toy_plugin:ToyVAESpec", model="toy_plugin.vae:ToyVAE")
