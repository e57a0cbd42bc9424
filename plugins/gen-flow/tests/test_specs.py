"""Specs: defaults, and images the multi-scale architecture cannot take are refused."""

import pytest
from flow_models import data_info

import gen
from gen import specs
from gen_flow.glow import Glow
from gen_flow.specs import GlowSpec, RealNVPSpec


def problems(cls, **overrides):
    items = [f"{k.replace('__', '.')}={v}" for k, v in overrides.items()]
    with pytest.raises(gen.SpecError) as err:
        specs.validate(cls, {}, items)
    return err.value.problems


def test_defaults_validate_on_bundled_mnist():
    for cls in (RealNVPSpec, GlowSpec):
        spec = specs.validate(cls, {})
        assert spec.data.image_size == 32 and spec.model.optimizer.lr == 1e-3


@pytest.mark.parametrize("size", [12, 24, 20])
def test_sizes_that_are_not_powers_of_two_are_refused(size):
    for cls in (RealNVPSpec, GlowSpec):
        [(path, message)] = problems(cls, data__image_size=size)
        assert path == "data.image_size" and f"got {size}" in message
        assert "power of two" in message


def test_too_many_levels_for_the_size_are_refused():
    [(path, message)] = problems(GlowSpec, data__image_size=4)  # 3 levels need 8
    assert path == "data.image_size" and ">= 8" in message and "3 levels" in message
    specs.validate(GlowSpec, {}, ["data.image_size=4", "model.levels=2"])
    specs.validate(RealNVPSpec, {}, ["data.image_size=4", "model.scales=3"])
    [(path, message)] = problems(RealNVPSpec, data__image_size=4, model__scales=4)
    assert path == "data.image_size" and "4 scales" in message


def test_model_refuses_data_it_cannot_take():
    with pytest.raises(gen.DataError, match=r"data\.image_size"):
        Glow(GlowSpec(levels=1), data_info(size=6))
    Glow(GlowSpec(levels=1), data_info(size=2, channels=3))
