"""Fuzzing the spec loader and the --set parser: any input is a valid spec or a SpecError,
never a traceback."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from toy_plugin import ToySpec

from gen import spec_json, specs
from gen.errors import SpecError

FIELDS = ["model", "data", "train", "name", "steps", "latent_dim", "image_size", "device",
          "optimizer", "lr", "betas", "binarize", "dataset", "root", "limit", "x"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
override_keys = st.lists(st.sampled_from(FIELDS) | st.text(max_size=4), min_size=0,
                         max_size=4).map(".".join)
overrides = st.tuples(override_keys, st.sampled_from(["=", "", "=="]),
                      st.text(max_size=10) | json_values.map(json.dumps)).map("".join)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid_or_spec_error(raw, sets=()):
    try:
        spec = specs.validate(ToySpec, raw, sets)
    except SpecError as err:
        assert err.problems and all(isinstance(msg, str) and msg for _, msg in err.problems)
        return
    assert spec.model.name == "toy"


@FAST
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4) | json_values)
def test_any_json_document_is_a_spec_or_a_spec_error(raw):
    valid_or_spec_error(raw)


@FAST
@given(st.lists(overrides, max_size=4))
def test_any_set_overrides_are_a_spec_or_a_spec_error(sets):
    valid_or_spec_error({}, sets)


@FAST
@given(st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_spec_file_loads_or_is_a_spec_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("spec") / "spec.json"
    path.write_bytes(content)
    try:
        raw = spec_json.load_json(path)
    except SpecError:
        return
    valid_or_spec_error(raw)
