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
    data_defaults: ClassVar[dict] = {"image_size": 8, "limit": 256}


@gen.hookimpl
def gen_register_models(register):
    register(name="toy", kind="adversarial", summary="A tiny test model",
             spec="toy_plugin:ToySpec", model="toy_plugin.model:Toy")
