"""Markdown reference of every spec field, rendered from the pydantic JSON schemas.

docs/specs.md is this module's output (``python -m gen.specdoc > docs/specs.md``), not prose
written by hand: types, defaults and descriptions live once, in the spec classes, and
tests/test_docs.py fails when the file and `render()` disagree. Nothing here imports torch.
"""

from __future__ import annotations

import json
from typing import Any

from gen import specs
from gen.plugins import Plugins, discover
from gen.registry import ModelInfo

HEADER = (
    "_Generated from the spec classes by `python -m gen.specdoc > docs/specs.md`; "
    "do not edit by hand._"
)
CORE = {"DataSpec", "TrainSpec", "OptimizerSpec"}
# The families gen ships (plugins/ in its repository): the reference documents these, not
# whatever else happens to be installed where it is rendered (a third party's example, say).
SHIPPED = frozenset({"gen-autoregressive", "gen-flow", "gen-gan", "gen-vae"})


def render(plugins: Plugins | None = None) -> str:
    """The whole reference: the core sections, then one section per model of the shipped
    families, by name."""
    plugins = discover() if plugins is None else plugins
    out = [
        HEADER,
        "",
        "# Spec reference",
        "",
        "A run spec is one JSON object with three sections: `model` (the family's own fields), "
        "`data` and `train` (owned by the core). Every section rejects unknown fields. "
        "`gen spec NAME` prints a complete default spec, `gen spec NAME --schema` its JSON Schema.",
        "",
        "## Core sections",
        "",
    ]
    for title, cls in (("data", specs.DataSpec), ("train", specs.TrainSpec)):
        out += _section(f"### {title}", cls.model_json_schema(), cls().model_dump(mode="json"))
    out += _section(
        "### OptimizerSpec",
        specs.OptimizerSpec.model_json_schema(),
        specs.OptimizerSpec().model_dump(mode="json"),
        note="Used by the families as `model.optimizer`. The defaults below are the class's "
        "own; each model's section shows its family's defaults.",
    )
    out += ["## Models", ""]
    for _, info in sorted(plugins.registry.models.items()):
        if info.plugin in SHIPPED:
            out += _model(info)
    return "\n".join(out).rstrip() + "\n"


def _model(info: ModelInfo) -> list[str]:
    cls = info.spec_class()
    schema = specs.json_schema(cls)
    defs = schema.get("$defs", {})
    own = schema["properties"]["model"]["$ref"].rsplit("/", 1)[-1]
    kind = f"{info.kind}, {'conditional' if info.conditional else 'unconditional'}"
    note = f"{info.summary}. Plugin `{info.plugin}`, {kind}."
    out = _section(f"### {info.name}", defs[own], specs.default_spec(cls)["model"], note=note)
    for section, changed in (("data", cls.data_defaults_for({})), ("train", cls.train_defaults)):
        if changed:
            pairs = ", ".join(f"`{section}.{k}` = `{_json(v)}`" for k, v in sorted(changed.items()))
            out += [f"Changes core defaults: {pairs} (a spec's own value still wins).", ""]
    own_rule = cls.data_defaults_for.__func__ is not specs.ModelSpec.data_defaults_for.__func__
    if own_rule and cls.data_defaults_for.__doc__:
        out += [f"Data defaults: {' '.join(cls.data_defaults_for.__doc__.split())}", ""]
    if cls.check_data is not specs.ModelSpec.check_data and cls.check_data.__doc__:
        out += [f"Checks the `data` section: {' '.join(cls.check_data.__doc__.split())}", ""]
    for extra in sorted(set(defs) - CORE - {own}):
        out += _section(f"#### {extra}", defs[extra], {})
    return out


def _section(
    heading: str, schema: dict[str, Any], defaults: dict[str, Any], note: str | None = None
) -> list[str]:
    out = [heading, ""]
    if note:
        out += [note, ""]
    if schema.get("description"):
        out += [schema["description"], ""]
    out += ["| field | type | default | description |", "|---|---|---|---|"]
    for field, prop in schema.get("properties", {}).items():
        if field in defaults:
            default = f"`{_json(defaults[field])}`"
        elif "default" in prop:
            default = f"`{_json(prop['default'])}`"
        else:
            default = "required" if field in schema.get("required", ()) else ""
        cells = [f"`{field}`", _type(prop), default, prop.get("description", "")]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*out, ""]


def _type(prop: dict[str, Any]) -> str:
    """A JSON Schema type as short words: ``integer > 0 or null``, ``list of integer``."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in prop:
        return f"`{_json(prop['const'])}`"
    if "enum" in prop:
        return " or ".join(f"`{_json(v)}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array" and "prefixItems" in prop:
        return "[" + ", ".join(_type(p) for p in prop["prefixItems"]) + "]"
    if kind == "array":
        kind = f"list of {_type(prop.get('items', {}))}"
        if "minItems" in prop:
            kind += f", at least {prop['minItems']}"
        return kind
    bounds = {"exclusiveMinimum": ">", "minimum": ">=", "exclusiveMaximum": "<", "maximum": "<="}
    limits = [f"{op} {_json(prop[key])}" for key, op in bounds.items() if key in prop]
    return " ".join([kind, ", ".join(limits)]) if limits else kind


def _json(value: Any) -> str:
    return json.dumps(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    print(render(), end="")
