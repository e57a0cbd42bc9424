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
