"""Spec validation: two steps, dotted error paths, overrides, JSON files."""

import json

import pytest
from toy_plugin import ToySpec

from gen import spec_json, specs
from gen.errors import SpecError


def problems(raw=None, overrides=()):
    with pytest.raises(SpecError) as err:
        specs.validate(ToySpec, raw or {}, overrides)
    return err.value.problems


def test_defaults_layer_family_defaults_under_the_users_spec():
    spec = specs.validate(ToySpec, {})
    assert spec.model.name == "toy"
    assert (spec.data.image_size, spec.data.limit) == (8, 256)  # ToySpec.data_defaults
    spec = specs.validate(ToySpec, {"data": {"image_size": 12}})
    assert (spec.data.image_size, spec.data.limit) == (12, 256)


def test_error_names_the_field_and_the_value():
    assert problems(overrides=["model.latent_dim=-3"]) == [
        ("model.latent_dim", "Input should be greater than 0 (got -3)")
    ]


def test_every_problem_is_reported_with_list_indices():
    found = dict(problems({"train": {"steps": 0, "batch_size": "many"},
                           "model": {"typo_field": 1}}))
    assert set(found) == {"train.steps", "train.batch_size", "model.typo_field"}
    assert found["model.typo_field"] == "Extra inputs are not permitted (got 1)"
    # A list index renders as [i].
    from pydantic import BaseModel, ValidationError

    class Holder(BaseModel):
        values: list[int]

    with pytest.raises(ValidationError) as err:
        Holder.model_validate({"values": [1, "x"]})
    assert specs.render_errors(err.value)[0][0] == "values[1]"


def test_spec_for_another_model_is_rejected():
    assert problems({"model": {"name": "dcgan"}}) == [
        ("model.name", "this spec is for 'dcgan', not 'toy'")
    ]


def test_overrides_parse_json_values_and_fall_back_to_strings():
    spec = specs.validate(ToySpec, {}, ["train.steps=200", "model.lr=1e-3",
                                        "data.root=/tmp/data", "data.download=true"])
    assert spec.train.steps == 200 and spec.model.lr == 1e-3
    assert spec.data.root == "/tmp/data" and spec.data.download is True


@pytest.mark.parametrize("bad", ["train.steps", "=3", "train..steps=3", ""])
def test_bad_override_syntax_is_a_spec_error(bad):
    found = problems(overrides=[bad])
    assert "expected KEY=VALUE" in found[0][1]


def test_override_into_a_non_section_is_a_spec_error():
    assert problems(overrides=["train.steps.x=1"])[0][0] == "train.steps"


def test_device_strings_are_checked():
    assert specs.validate(ToySpec, {}, ["train.device=cuda:1"]).train.device == "cuda:1"
    assert problems(overrides=["train.device=gpu"])[0][0] == "train.device"


def test_default_spec_round_trips_and_schema_has_sections():
    default = specs.default_spec(ToySpec)
    assert specs.validate(ToySpec, json.loads(json.dumps(default))).model_dump(
        mode="json") == default
    assert {"model", "data", "train"} <= set(specs.json_schema(ToySpec)["properties"])


def test_load_json_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"train": {"steps": 3,}}')
    with pytest.raises(SpecError, match=r"(?s)bad\.json.*malformed JSON at line 1"):
        spec_json.load_json(bad)
    with pytest.raises(SpecError, match="cannot read spec file"):
        spec_json.load_json(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(SpecError, match="expected a JSON object, got list"):
        spec_json.load_json(tmp_path / "list.json")


def test_optimizer_spec_builds_each_optimizer():
    import torch

    params = [torch.nn.Parameter(torch.zeros(2))]
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
             "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}
    for name, cls in kinds.items():
        assert type(specs.OptimizerSpec(name=name).build(params)) is cls
    with pytest.raises(ValueError, match="each beta must be in"):
        specs.OptimizerSpec(betas=(0.5, 1.0))
