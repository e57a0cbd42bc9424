"""Plugin discovery: entry points of group ``gen``, loaded one by one into a pluggy manager.

The core's own plugin (`gen.core_plugin`, listed as ``gen-core``: the built-in feature
extractors and data sets) is loaded first, through the same hooks as any other. A plugin that
fails to import (`SystemExit` included), implements a misspelled hook or makes an invalid
registration is recorded as broken with its error; the others and the CLI keep working. A name
two plugins register is kept for both (see `gen.registry`). What a plugin prints while it is
imported or registers goes to stderr, so stdout stays what gen prints there (a spec, JSON).
What can replace a plugin silently (another distribution's entry point of its name, another
distribution's files in its import package) is reported by `Plugins.clashes`.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from gen import hookspecs
from gen.errors import PluginError
from gen.plugin_parts import DatasetInfo, ExtractorInfo, TrackerInfo
from gen.registry import ModelInfo, Registry

ENTRY_POINT_GROUP = "gen"
CORE_PLUGIN = "gen.core_plugin"


@dataclass
class PluginRecord:
    """One plugin as loaded: its models, or why it is broken."""

    name: str
    version: str
    models: list[str] = field(default_factory=list)
    extractors: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    trackers: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    disabled: bool = False  # named in $GEN_DISABLE_PLUGINS: never imported

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "disabled" if self.disabled else "ok" if self.ok else "broken"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "models": self.models,
            "extractors": self.extractors,
            "datasets": self.datasets,
            "trackers": self.trackers,
            "error": self.error,
        }


class Plugins:
    """The plugin manager, the registry (models, extractors) and a record of every plugin seen."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("gen")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.records: list[PluginRecord] = []
        self.entry_points: list[metadata.EntryPoint] = []  # every one seen, disabled included

    def add(self, plugin: object, name: str, version: str = "?") -> PluginRecord:
        """Register one plugin object (a module, usually) and the models and extractors it
        declares. A plugin loads once, under one name: pluggy would refuse a second time with
        its whole registry in the message, so these are said plainly first."""
        record = PluginRecord(name=name, version=version)
        self.records.append(record)
        owner = self.pm.get_name(plugin)
        if owner is not None:
            return self._broken(record, f"{_origin(plugin)} is already loaded, as plugin "
                                        f"{owner!r}: a module loads as one plugin only")
        if self.pm.has_plugin(name):
            return self._broken(record, (
                f"another plugin is already loaded under the name {name!r} "
                f"({_origin(self.pm.get_plugin(name))}): two distributions declare this "
                f"entry point; uninstall one, or rename the other's (not gen-*)"))
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy.PluginValidationError: a hook of wrong arguments
            return self._broken(record, f"invalid hook: {exc}")
        try:
            # Every plugin before this one passed, so a pending hook is this plugin's typo.
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            return self._broken(record, f"unknown hook (misspelled?): {exc}")
        try:
            with redirect_stdout(sys.stderr):
                (record.models, record.extractors, record.datasets,
                 record.trackers) = self._register_declared(
                    plugin, name, version)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a hook's SystemExit must not end gen
            self.pm.unregister(plugin)
            message = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            return self._broken(record, message)
        return record

    def _register_declared(self, plugin: object, name: str, version: str):
        """Register what ``plugin`` declares: all of it, or (on any error) nothing."""
        models = self._declared(plugin, "gen_register_models", ModelInfo, name, version)
        extractors = self._declared(plugin, "gen_register_extractors", ExtractorInfo, name, version)
        datasets = self._declared(plugin, "gen_register_datasets", DatasetInfo, name, version)
        trackers = self._declared(plugin, "gen_register_trackers", TrackerInfo, name, version)
        own = Registry()  # validates every descriptor before any is registered
        for info in models:
            own.add(info)
        for info in extractors:
            own.add_extractor(info)
        for info in datasets:
            own.add_dataset(info)
        for info in trackers:
            own.add_tracker(info)
        self.registry.merge(own)
        return ([m.name for m in models], [e.name for e in extractors],
                [d.name for d in datasets], [t.name for t in trackers])

    def add_core(self) -> PluginRecord:
        """The core's own plugin (the built-in extractors and data sets), loaded like any other."""
        try:
            version = metadata.version("gen-core")
        except metadata.PackageNotFoundError:
            version = "local"
        return self._import_and_add(
            lambda: importlib.import_module(CORE_PLUGIN), "gen-core", CORE_PLUGIN, version
        )

    def add_entry_point(self, ep: metadata.EntryPoint) -> PluginRecord:
        return self._import_and_add(ep.load, ep.name, ep.value, _version(ep))

    def add_module(self, module: str) -> PluginRecord:
        """A module named in GEN_PLUGINS (version ``local``)."""
        owner = self.pm.get_name(sys.modules[module]) if module in sys.modules else None
        if owner is not None:
            record = PluginRecord(name=module, version="local")
            self.records.append(record)
            return self._broken(record, (
                f"GEN_PLUGINS names {_origin(sys.modules[module])}, which is installed and "
                f"already loaded as plugin {owner!r}: drop it from GEN_PLUGINS, which is for "
                f"modules that are not installed (to try a local copy, uninstall {owner!r})"))
        return self._import_and_add(
            lambda: importlib.import_module(module), module, module, "local"
        )

    def _import_and_add(self, load, name: str, target: str, version: str) -> PluginRecord:
        try:
            with redirect_stdout(sys.stderr):
                plugin = load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # `sys.exit()` at import must not end gen
            record = PluginRecord(name=name, version=version)
            self.records.append(record)
            return self._broken(
                record, f"failed to import {target!r}: {type(exc).__name__}: {exc}"
            )
        return self.add(plugin, name, version)

    def _declared(self, plugin: object, hook: str, cls: type, name: str, version: str) -> list:
        """What ``plugin``'s implementation of ``hook`` registers, as ``cls`` descriptors."""
        infos: list = []

        def register(**fields: Any) -> None:
            try:
                infos.append(cls(plugin=name, version=version, **fields))
            except TypeError as exc:
                raise PluginError(f"plugin {name!r}: bad register() call: {exc}") from exc

        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=register)
        return infos

    def _broken(self, record: PluginRecord, error: str) -> PluginRecord:
        record.error = error
        record.traceback = traceback.format_exc()
        if not self.pm.has_plugin(record.name):  # a second of one name: the first is loaded
            self.registry.unloaded[record.name] = "broken (`gen plugins` says why)"
        return record

    @property
    def broken(self) -> list[PluginRecord]:
        return [r for r in self.records if not r.ok]

    def clashes(self) -> list[str]:
        """Warnings about what can replace a plugin without an error (`gen.plugin_clashes`):
        slower than discovery, so only commands that show warnings ask."""
        from gen.plugin_clashes import clashes

        return clashes(self.entry_points)


def discover(entry_points: Iterable[metadata.EntryPoint] | None = None) -> Plugins:
    """Load the core's own plugin and every installed plugin into a fresh `Plugins`, then the
    modules named in ``$GEN_PLUGINS`` (comma-separated), which lets a plugin be tried or tested
    before it is packaged. Given ``entry_points`` replace both the core's plugin and the
    installed ones, so a test controls the whole set. Plugins named in
    ``$GEN_DISABLE_PLUGINS`` (comma-separated) are recorded as disabled and never imported."""
    plugins = Plugins()
    disabled = {n.strip() for n in os.environ.get("GEN_DISABLE_PLUGINS", "").split(",")}
    if entry_points is None:
        plugins.add_core()
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
    plugins.entry_points = sorted(eps, key=lambda e: e.name)
    for ep in plugins.entry_points:
        if ep.name in disabled:
            plugins.records.append(PluginRecord(ep.name, _version(ep), disabled=True))
            plugins.registry.unloaded[ep.name] = "disabled by GEN_DISABLE_PLUGINS"
        else:
            plugins.add_entry_point(ep)
    for module in filter(None, os.environ.get("GEN_PLUGINS", "").split(",")):
        plugins.add_module(module.strip())
    return plugins


def _version(ep: metadata.EntryPoint) -> str:
    return ep.dist.version if getattr(ep, "dist", None) is not None else "?"


def _origin(plugin: object) -> str:
    """Where a plugin's code was loaded from, for messages."""
    name = getattr(plugin, "__name__", repr(plugin))
    file = getattr(plugin, "__file__", None)
    return f"module {name!r} ({file})" if file else f"module {name!r}"


_default: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin set, discovered on first use."""
    global _default
    if _default is None:
        _default = discover()
    return _default
