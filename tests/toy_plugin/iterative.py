"""A second throwaway plugin for the core's tests: a tiny iterative model (two samplers, one
taking eta; a conditional variant taking guidance) and a cheap feature extractor. Registered
only by the tests that add it (tests/test_sampling_options.py), so the toy plugin's own model
list is unchanged. Registration and specs only here: no torch."""

from typing import ClassVar, Literal

from pydantic import Field

import gen


class ToyIterativeSpec(gen.ModelSpec):
    name: Literal["toy-iterative"] = "toy-iterative"
    lr: float = Field(0.1, gt=0)
    sampler: Literal["walk", "glide"] = "glide"
    steps: int = Field(3, gt=0)
    eta: float = Field(0.0, ge=0, le=1)
    guidance: float = 1.0
    conditional: bool = False
    data_defaults: ClassVar[dict] = {"image_size": 8, "limit": 256, "binarize": "static"}


class ToyIterativeCondSpec(ToyIterativeSpec):
    name: Literal["toy-iterative-cond"] = "toy-iterative-cond"
    conditional: bool = True


@gen.hookimpl
def gen_register_models(register):
    register(name="toy-iterative", kind="diffusion", summary="Pixels walked from noise",
             spec="toy_plugin.iterative:ToyIterativeSpec",
             model="toy_plugin.iterative_model:ToyIterative")
    register(name="toy-iterative-cond", kind="diffusion", conditional=True,
             summary="Pixels walked from noise, per class, with guidance",
             spec="toy_plugin.iterative:ToyIterativeCondSpec",
             model="toy_plugin.iterative_model:ToyIterative")


@gen.hookimpl
def gen_register_extractors(register):
    register(name="toy-pixels", summary="4x4 average-pooled pixels: free, for tests",
             extractor="toy_plugin.iterative_model:build_pixels")
