"""Plugin discovery: entry points of group ``gen``, loaded one by one into a pluggy manager.

A plugin that fails to import, implements a misspelled hook, or registers a model name another
plugin already took is recorded as broken with its error; the others and the CLI keep working.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from gen import hookspecs
from gen.errors import PluginError
from gen.registry import ModelInfo, Registry

ENTRY_POINT_GROUP = "gen"


@dataclass
class PluginRecord:
    """One plugin as loaded: its models, or why it is broken."""

    name: str
    version: str
    models: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": "ok" if self.ok else "broken",
            "models": self.models,
            "error": self.error,
        }


class Plugins:
    """The plugin manager, the model registry and a record of every plugin seen."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("gen")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.records: list[PluginRecord] = []

    def add(self, plugin: object, name: str, version: str = "?") -> PluginRecord:
        """Register one plugin object (a module, usually) and the models it declares."""
        record = PluginRecord(name=name, version=version)
        self.records.append(record)
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy.PluginValidationError, ValueError (name taken)
            return self._broken(record, f"invalid hook: {exc}")
        try:
            # Every plugin before this one passed, so a pending hook is this plugin's typo.
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            return self._broken(record, f"unknown hook (misspelled?): {exc}")
        try:
            infos = self._declared_models(plugin, name, version)
            for info in infos:
                if info.name in self.registry.models:
                    other = self.registry.models[info.name].plugin
                    raise PluginError(
                        f"model name {info.name!r} is registered by two plugins: "
                        f"{other!r} and {name!r}"
                    )
            for info in infos:
                self.registry.add(info)
        except Exception as exc:
            self.pm.unregister(plugin)
            message = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            return self._broken(record, message)
        record.models = [info.name for info in infos]
        return record

    def add_entry_point(self, ep: metadata.EntryPoint) -> PluginRecord:
        version = ep.dist.version if getattr(ep, "dist", None) is not None else "?"
        return self._import_and_add(ep.load, ep.name, ep.value, version)

    def add_module(self, module: str) -> PluginRecord:
        return self._import_and_add(
            lambda: importlib.import_module(module), module, module, "local"
        )

    def _import_and_add(self, load, name: str, target: str, version: str) -> PluginRecord:
        try:
            plugin = load()
        except Exception as exc:
            record = PluginRecord(name=name, version=version)
            self.records.append(record)
            return self._broken(
                record, f"failed to import {target!r}: {type(exc).__name__}: {exc}"
            )
        return self.add(plugin, name, version)

    def _declared_models(self, plugin: object, name: str, version: str) -> list[ModelInfo]:
        infos: list[ModelInfo] = []

        def register(**fields: Any) -> None:
            try:
                infos.append(ModelInfo(plugin=name, version=version, **fields))
            except TypeError as exc:
                raise PluginError(f"plugin {name!r}: bad register() call: {exc}") from exc

        for impl in self.pm.hook.gen_register_models.get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=register)
        return infos

    @staticmethod
    def _broken(record: PluginRecord, error: str) -> PluginRecord:
        record.error = error
        record.traceback = traceback.format_exc()
        return record

    @property
    def broken(self) -> list[PluginRecord]:
        return [r for r in self.records if not r.ok]


def discover(entry_points: Iterable[metadata.EntryPoint] | None = None) -> Plugins:
    """Load every installed plugin (or the given entry points) into a fresh `Plugins`, then the
    modules named in ``$GEN_PLUGINS`` (comma-separated), which lets a plugin be tried or tested
    before it is packaged."""
    plugins = Plugins()
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
    for ep in sorted(eps, key=lambda e: e.name):
        plugins.add_entry_point(ep)
    for module in filter(None, os.environ.get("GEN_PLUGINS", "").split(",")):
        plugins.add_module(module.strip())
    return plugins


_default: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin set, discovered on first use."""
    global _default
    if _default is None:
        _default = discover()
    return _default
