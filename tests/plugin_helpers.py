"""Plugins made on the fly for tests: modules with hooks, and fake entry points for them."""

import sys
import types
from importlib import metadata

import gen


def entry_point(name: str, module: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=module, group="gen")


def plugin_module(monkeypatch, module_name: str, **hooks) -> types.ModuleType:
    """A plugin module made on the fly and importable under ``module_name``."""
    module = types.ModuleType(module_name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, gen.hookimpl(fn))
    monkeypatch.setitem(sys.modules, module_name, module)
    return module


FAKE_REGISTRATION = '''import gen


@gen.hookimpl
def gen_register_models(register):
    register(name="fake-density", kind="autoregressive", summary="A density of a distribution",
             spec="toy_plugin:ToyDensitySpec", model="fake_gen_plugin.models:FakeDensity")
'''
FAKE_MODELS = '''from toy_plugin.density import ToyDensity


class FakeDensity(ToyDensity):
    pass
'''


def fake_distribution(site, models: str = FAKE_MODELS):
    """An installed distribution ``fake-gen-plugin`` 1.0 in the folder ``site`` (put it on the
    path): a package whose plugin ``fake-plugin`` registers ``fake-density`` (the toy density,
    so tests/ must be on the path too), its class in ``fake_gen_plugin/models.py`` (returned,
    to edit), as pip lays out any install."""
    package = site / "fake_gen_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_REGISTRATION)
    (package / "models.py").write_text(models)
    info = site / "fake_gen_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-gen-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[gen]\nfake-plugin = fake_gen_plugin\n")
    return package / "models.py"
