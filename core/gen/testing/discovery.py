"""How the kit finds its model, and its checks of how a model is found and specified: through
an entry point, with a default spec that survives JSON, refusing unknown fields, with a JSON
Schema, registered without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import pytest

from gen import specs
from gen.errors import AmbiguousNameError, SpecError, UnknownModelError
from gen.plugins import Plugins, discover
from gen.registry import ModelInfo, split_name


def find_model(plugins: Plugins, name: str, plugin_module: str) -> ModelInfo:
    """The model ``name`` picks, as gen picks it (``PLUGIN:NAME`` too). A bare name that
    another installed plugin registers as well picks the plugin loaded from ``plugin_module``
    (with a warning): the kit tests that plugin, whatever else is installed beside it."""
    try:
        return plugins.registry.get(name)
    except UnknownModelError as exc:
        pytest.fail(f"{exc} The kit finds models as gen does: install the plugin "
                    "(pip install -e .) or name its module in GEN_PLUGINS", pytrace=False)
    except AmbiguousNameError as exc:
        claims = plugins.registry.model_claims.by_name[name]
        mine = [info for owner, info in sorted(claims.items())
                if loaded_from(plugins, owner, plugin_module)]
        if len(mine) != 1:
            pytest.fail(f"{exc}; none is the plugin of plugin_module {plugin_module!r}. Set the "
                        "kit's model to the qualified name, or turn the other plugins off "
                        f"while testing: GEN_DISABLE_PLUGINS={','.join(sorted(claims))} but "
                        "the one to test", pytrace=False)
        others = ", ".join(sorted(set(claims) - {mine[0].plugin}))
        warnings.warn(f"model name {name!r} is also registered by plugin {others}: the kit "
                      f"tests {mine[0].qualified!r}, the plugin of module {plugin_module!r}; "
                      f"to test without the other, GEN_DISABLE_PLUGINS={others}", stacklevel=2)
        return mine[0]


def loaded_from(plugins: Plugins, plugin: str, module: str) -> bool:
    """Whether ``plugin``'s hooks are in ``module`` (or a module inside it)."""
    loaded = getattr(plugins.pm.get_plugin(plugin), "__name__", "")
    return loaded == module or loaded.startswith(module + ".")


class DiscoveryChecks:
    """Mixed into `gen.testing.kit.ModelConformance`; uses its ``info`` fixture and its
    ``model`` and ``plugin_module`` attributes."""

    def test_discovered_through_entry_point(self, monkeypatch):
        monkeypatch.delenv("GEN_PLUGINS", raising=False)  # entry points only
        plugins = discover()
        plugin, bare = split_name(self.model)
        found = [info for owner, info in plugins.registry.model_claims.by_name.get(bare, {})
                 .items() if plugin in (None, owner)]
        broken = "".join(f"; plugin {r.name} is broken: {r.error}" for r in plugins.broken)
        assert found, (
            f"{self.model!r} is not registered by any installed entry point of group 'gen' "
            "(GEN_PLUGINS does not count here): install the plugin (pip install -e .), its "
            f"pyproject.toml declaring [project.entry-points.gen]{broken}")
        owners = [info.plugin for info in found]
        assert any(loaded_from(plugins, owner, self.plugin_module) for owner in owners), (
            f"{self.model!r} is registered by plugin {', '.join(owners)}, whose entry point "
            f"names another module than plugin_module {self.plugin_module!r}: set "
            "plugin_module to the module the entry point names")

    def test_default_spec_round_trips(self, info):
        cls = info.spec_class()
        try:
            default, problems = specs.default_spec(cls), []
        except SpecError as exc:
            default, problems = {}, exc.problems
        assert not problems, (
            f"the default spec is invalid ({'; '.join(f'{p}: {m}' for p, m in problems)}): "
            "every field of the spec class needs a default (the paper's value), so that "
            f"`gen train {info.name}` runs without a spec")
        named = default["model"]["name"]
        assert named == info.name, (
            f"the default spec names model {named!r}, but the model is registered as "
            f"{info.name!r}: give the spec class name: Literal[{info.name!r}] = {info.name!r}")
        again = specs.validate(cls, json.loads(json.dumps(default))).model_dump(mode="json")
        changed = sorted(_differences(default, again))
        assert not changed, (
            f"the default spec changes when read back from its JSON at {', '.join(changed)}: "
            "a spec.json must give back the spec it was written from (a validator that "
            "rewrites a value, or a type JSON cannot hold, breaks that)")

    def test_unknown_field_is_rejected(self, info):
        try:
            specs.validate(info.spec_class(), {"model": {"no_such_field": 1}})
        except SpecError as exc:
            problems = exc.problems
        else:
            pytest.fail("an unknown field, model.no_such_field, was accepted: a typo in a spec "
                        "must be an error; subclass gen.ModelSpec and keep its "
                        "extra='forbid'", pytrace=False)
        assert [p for p, _ in problems] == ["model.no_such_field"], (
            f"an unknown field should be the one problem, at model.no_such_field; got "
            f"{problems} (every other field needs a default)")

    def test_schema_generates(self, info):
        schema = specs.json_schema(info.spec_class())
        json.dumps(schema)
        missing = {"model", "data", "train"} - set(schema.get("properties", {}))
        assert not missing, f"the JSON Schema of the run spec lacks {sorted(missing)}"

    def test_import_does_not_import_torch(self, info):
        code = textwrap.dedent(f"""
            import sys
            import {self.plugin_module}
            from gen.plugins import discover
            discover().registry.get({info.qualified!r}).spec_class()
            print("torch" in sys.modules)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, (
            f"importing {self.plugin_module} and the spec class failed in a fresh "
            f"interpreter:\n{out.stderr}")
        assert out.stdout.strip() == "False", (
            f"importing {self.plugin_module} or its spec class imported torch: every command "
            "imports them, so keep torch to the model's modules (spec and model are given to "
            "register() as import paths for that)")


def _differences(a, b, path: str = "") -> list[str]:
    """The dotted paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in a.keys() | b.keys()
                for d in _differences(a.get(key), b.get(key), f"{path}{key}.")]
    return [] if a == b else [path.rstrip(".") or "(the whole spec)"]
