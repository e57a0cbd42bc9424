"""Plugin discovery: entry points faked with importlib.metadata objects, not installed packages."""

import pytest
from plugin_helpers import entry_point, plugin_module

import gen
from gen.errors import PluginError, UnknownModelError
from gen.plugins import Plugins, discover


def registers(*names, kind="adversarial"):
    def gen_register_models(register):
        for name in names:
            register(name=name, kind=kind, summary=f"{name} model", spec="m:Spec", model="m:M")

    return gen_register_models


def test_entry_points_load_one_by_one_and_a_broken_one_is_recorded(monkeypatch):
    plugin_module(monkeypatch, "good_plugin", gen_register_models=registers("alpha", "beta"))
    plugins = discover([entry_point("good", "good_plugin"),
                        entry_point("broken", "no_such_module_for_gen_tests")])
    assert sorted(plugins.registry.models) == ["alpha", "beta"]
    by_name = {r.name: r for r in plugins.records}
    assert by_name["good"].ok and by_name["good"].models == ["alpha", "beta"]
    broken = by_name["broken"]
    assert not broken.ok
    assert "no_such_module_for_gen_tests" in broken.error and "ModuleNotFoundError" in broken.error
    assert "Traceback" in broken.traceback


def test_misspelled_hook_is_an_error_naming_the_plugin(monkeypatch):
    plugin_module(monkeypatch, "typo_plugin", gen_register_model=registers("gamma"))
    plugin_module(monkeypatch, "fine_plugin", gen_register_models=registers("delta"))
    plugins = discover([entry_point("typo", "typo_plugin"), entry_point("fine", "fine_plugin")])
    typo = next(r for r in plugins.records if r.name == "typo")
    assert not typo.ok
    assert "gen_register_model" in typo.error and "typo" in typo.error
    assert list(plugins.registry.models) == ["delta"], "the other plugin still loads"


def test_a_name_two_plugins_register_must_be_qualified_and_both_stay_loaded(monkeypatch):
    plugin_module(monkeypatch, "first_plugin", gen_register_models=registers("same"))
    plugin_module(monkeypatch, "second_plugin", gen_register_models=registers("same", "other"))
    plugins = discover([entry_point("a-first", "first_plugin"),
                        entry_point("b-second", "second_plugin")])
    assert all(r.ok for r in plugins.records), "neither plugin knocks the other out"
    with pytest.raises(gen.errors.AmbiguousNameError, match="'a-first:same' or 'b-second:same'"):
        plugins.registry.get("same")
    assert plugins.registry.get("b-second:same").plugin == "b-second"
    assert plugins.registry.get("a-first:same").plugin == "a-first"
    assert plugins.registry.get("other").plugin == "b-second"


def test_bad_register_calls_are_rejected():
    plugins = Plugins()

    class BadKind:
        gen_register_models = staticmethod(gen.hookimpl(registers("x", kind="A Flow!")))

    record = plugins.add(BadKind(), "bad-kind")
    assert "kind 'A Flow!'" in record.error and "lower-case label" in record.error

    class MissingField:
        @staticmethod
        @gen.hookimpl
        def gen_register_models(register):
            register(name="y", kind="adversarial")

    record = plugins.add(MissingField(), "missing")
    assert "bad register() call" in record.error
    assert len(plugins.registry) == 0


def test_unknown_model_suggests_the_closest_name(monkeypatch):
    plugin_module(monkeypatch, "p", gen_register_models=registers("dcgan", "wgan"))
    registry = discover([entry_point("p", "p")]).registry
    with pytest.raises(UnknownModelError) as err:
        registry.get("dcgn")
    assert "Did you mean 'dcgan'?" in str(err.value)
    assert "dcgan, wgan" in str(err.value)


def test_gen_plugins_environment_variable_loads_modules(monkeypatch):
    plugin_module(monkeypatch, "env_plugin", gen_register_models=registers("from-env"))
    monkeypatch.setenv("GEN_PLUGINS", "env_plugin, missing_env_plugin")
    plugins = discover([])
    assert "from-env" in plugins.registry.models
    assert [r.ok for r in plugins.records] == [True, False]


def test_model_info_loads_classes_lazily_with_clear_errors():
    info = gen.ModelInfo(name="z", kind="adversarial", summary="", spec="nowhere_xyz:Spec",
                         model="gen.specs:DataSpec", plugin="p")
    assert info.model_class() is gen.DataSpec
    with pytest.raises(PluginError, match="plugin 'p': cannot import the spec class"):
        info.spec_class()


def test_disabled_plugins_are_recorded_and_never_imported(monkeypatch):
    plugin_module(monkeypatch, "kept_plugin", gen_register_models=registers("kept"))
    monkeypatch.setenv("GEN_DISABLE_PLUGINS", "off, other")
    plugins = discover([entry_point("kept", "kept_plugin"),
                        entry_point("off", "module_that_would_fail_to_import_xyz")])
    assert list(plugins.registry.models) == ["kept"]
    off = next(r for r in plugins.records if r.name == "off")
    assert off.as_dict()["status"] == "disabled" and off.error is None
    assert not plugins.broken
