"""Light descriptors of registered models, and the lookup by name of everything plugins
register.

A plugin registers a `ModelInfo` per model: a name, a kind, a one-line summary and the *import
paths* of its spec and model classes. Nothing heavy is imported until a spec is validated
(`spec_class`) or a model is built (`model_class`). Extractors, data sets and trackers have
descriptors of the same sort (`gen.plugin_parts`).

Plugins never knock each other out: a name two plugins register is kept for both, and then
resolves only when qualified as ``PLUGIN:NAME`` (``gen-gan:dcgan``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from gen.claims import Claims, split_name
from gen.errors import (
    CheckpointError,
    PluginError,
    UnknownDatasetError,
    UnknownExtractorError,
    UnknownModelError,
    UnknownTrackerError,
)
from gen.plugin_parts import DatasetInfo, ExtractorInfo, TrackerInfo, import_for

# `kind` is an open label that groups models in listings; what gen offers a model follows from
# the methods its class implements (`gen.capabilities`), never from its kind.
DOCUMENTED_KINDS = ("adversarial", "latent-variable", "autoregressive", "flow", "diffusion")
_KIND = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class ModelInfo:
    """What a plugin says about one model; cheap to create and to list."""

    name: str
    kind: str
    summary: str
    spec: str
    model: str
    conditional: bool = False
    plugin: str = "?"
    version: str = "?"

    def spec_class(self) -> type:
        return self._load(self.spec, "spec")

    def model_class(self) -> type:
        """The model class, checked for what gen reads from it (its declared likelihood): a
        class that declares it wrongly is a `PluginError` naming the attribute."""
        cls = self._load(self.model, "model")
        from gen.capabilities import check_model_class  # no torch

        problems = check_model_class(cls)
        if problems:
            raise PluginError(f"plugin {self.plugin!r}: model {self.name!r} "
                              f"({self.model}): {'; '.join(problems)}")
        return cls

    @property
    def qualified(self) -> str:
        """``PLUGIN:NAME``: picks this model even where another plugin registers its name."""
        return f"{self.plugin}:{self.name}"

    def _load(self, path: str, what: str) -> type:
        return import_for(self.plugin, f"the {what} class of model {self.name!r}", path)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plugin": self.plugin,
            "version": self.version,
            "kind": self.kind,
            "conditional": self.conditional,
            "summary": self.summary,
        }


@dataclass
class Registry:
    """Models and extractors by name (and plugin). A name several plugins register resolves
    only as ``PLUGIN:NAME``; registering one name twice in one plugin is an error."""

    model_claims: Claims[ModelInfo] = field(default_factory=lambda: Claims("model"))
    extractor_claims: Claims[ExtractorInfo] = field(default_factory=lambda: Claims("extractor"))
    dataset_claims: Claims[DatasetInfo] = field(default_factory=lambda: Claims("data set"))
    tracker_claims: Claims[TrackerInfo] = field(default_factory=lambda: Claims("tracker"))
    # Plugins that registered nothing, and why ("disabled by ...", "broken: ..."): a model
    # that seems unknown may belong to one of them.
    unloaded: dict[str, str] = field(default_factory=dict)

    @property
    def models(self) -> dict[str, ModelInfo]:
        """Every model under the name `get` takes for it: its own, or ``PLUGIN:NAME`` where
        several plugins register it."""
        return self.model_claims.by_resolvable_name()

    @property
    def extractors(self) -> dict[str, ExtractorInfo]:
        """Every extractor under the name `get_extractor` takes for it (as `models`)."""
        return self.extractor_claims.by_resolvable_name()

    @property
    def datasets(self) -> dict[str, DatasetInfo]:
        """Every data set under the name `get_dataset` takes for it (as `models`)."""
        return self.dataset_claims.by_resolvable_name()

    @property
    def trackers(self) -> dict[str, TrackerInfo]:
        """Every tracker under the name `get_tracker` takes for it (as `models`)."""
        return self.tracker_claims.by_resolvable_name()

    def contested(self) -> dict[str, list[str]]:
        """Model names several plugins register -> those plugins."""
        return self.model_claims.contested()

    def add(self, info: ModelInfo) -> None:
        if not isinstance(info.kind, str) or not _KIND.fullmatch(info.kind):
            raise PluginError(
                f"plugin {info.plugin!r}: model {info.name!r} has kind {info.kind!r}; expected "
                f"a lower-case label such as {', '.join(DOCUMENTED_KINDS)}"
            )
        if ":" not in info.spec or ":" not in info.model:
            raise PluginError(
                f"plugin {info.plugin!r}: model {info.name!r} must give spec and model as "
                f"'module:Class' import paths"
            )
        self.model_claims.add(info)

    def add_extractor(self, info: ExtractorInfo) -> None:
        if ":" not in info.extractor:
            raise PluginError(
                f"plugin {info.plugin!r}: extractor {info.name!r} must be given as a "
                f"'module:callable' import path"
            )
        self.extractor_claims.add(info)

    def add_dataset(self, info: DatasetInfo) -> None:
        if ":" not in info.dataset or (info.options is not None and ":" not in info.options):
            raise PluginError(
                f"plugin {info.plugin!r}: data set {info.name!r} must give dataset (and "
                "options, if any) as 'module:name' import paths"
            )
        self.dataset_claims.add(info)

    def add_tracker(self, info: TrackerInfo) -> None:
        if ":" not in info.tracker or (info.options is not None and ":" not in info.options):
            raise PluginError(
                f"plugin {info.plugin!r}: tracker {info.name!r} must give tracker (and "
                "options, if any) as 'module:name' import paths"
            )
        self.tracker_claims.add(info)

    def merge(self, other: Registry) -> None:
        """Take in everything ``other`` holds (one plugin's registrations, checked there)."""
        for info in other.model_claims.all():
            self.model_claims.add(info)
        for info in other.extractor_claims.all():
            self.extractor_claims.add(info)
        for info in other.dataset_claims.all():
            self.dataset_claims.add(info)
        for info in other.tracker_claims.all():
            self.tracker_claims.add(info)

    def get_dataset(self, name: str) -> DatasetInfo:
        """The data set ``name`` (or ``PLUGIN:NAME``) picks."""
        info = self.dataset_claims.find(name)
        if info is None:
            raise UnknownDatasetError(
                self._unknown("data set", "data sets", name, self.dataset_claims))
        return info

    def get_extractor(self, name: str) -> ExtractorInfo:
        """The extractor ``name`` (or ``PLUGIN:NAME``) picks."""
        info = self.extractor_claims.find(name)
        if info is None:
            raise UnknownExtractorError(
                self._unknown("feature extractor", "extractors", name, self.extractor_claims))
        return info

    def get_tracker(self, name: str) -> TrackerInfo:
        """The tracker ``name`` (or ``PLUGIN:NAME``) picks."""
        info = self.tracker_claims.find(name)
        if info is None:
            raise UnknownTrackerError(
                self._unknown("tracker", "trackers", name, self.tracker_claims))
        return info

    def _unknown(self, what: str, plural: str, name: str, claims: Claims) -> str:
        names = sorted(claims.by_name)
        close = difflib.get_close_matches(split_name(name)[1], names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        known = ", ".join(names) if names else "none (is gen-core's plugin loaded?)"
        unloaded = "".join(f" Plugin {p!r} is {why}." for p, why in sorted(self.unloaded.items()))
        return f"unknown {what} {name!r}.{hint} Known {plural}: {known}.{unloaded}"

    def get(self, name: str) -> ModelInfo:
        """The model ``name`` (or ``PLUGIN:NAME``) picks."""
        info = self.model_claims.find(name)
        if info is None:
            raise UnknownModelError(self.unknown_message(name))
        return info

    def get_trained(self, name: str, plugin: str | None, run: object) -> ModelInfo:
        """The model ``run`` was trained with, through the plugin its run.json records, never
        another plugin that registers the same name. ``plugin`` None (a run.json of before gen
        recorded it) looks ``name`` up as it is."""
        if plugin is None:
            return self.get(name)
        info = self.model_claims.by_name.get(name, {}).get(plugin)
        if info is None:
            raise CheckpointError(f"run {run} was trained with model {name!r} of plugin "
                                  f"{plugin!r}, {self._absence(plugin)}")
        return info

    def _absence(self, plugin: str) -> str:
        """Why ``plugin`` provides no model that it once did."""
        if plugin in self.unloaded:
            return f"which is {self.unloaded[plugin]}"
        if any(plugin in claims for claims in self.model_claims.by_name.values()):
            return "which no longer registers it"
        return "which is not installed"

    def unknown_message(self, name: str) -> str:
        unloaded = "".join(f" Plugin {p!r} is {why}." for p, why in sorted(self.unloaded.items()))
        if not self.model_claims.by_name:
            return (
                f"unknown model {name!r}: no model plugins are loaded "
                f"(try `pip install gen-gan`).{unloaded}"
            )
        plugin, bare = split_name(name)
        owners = self.model_claims.by_name.get(bare)
        if plugin is not None and owners:
            by = ", ".join(repr(p) for p in sorted(owners))
            return (f"unknown model {name!r}: plugin {plugin!r} registers no model {bare!r} "
                    f"(registered by {by}).{unloaded}")
        names = sorted(self.model_claims.by_name)
        close = difflib.get_close_matches(bare, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown model {name!r}.{hint} Installed models: {', '.join(names)}.{unloaded}"

    def __iter__(self):
        return iter(sorted(self.model_claims.all(), key=lambda m: (m.plugin, m.name)))

    def __len__(self) -> int:
        return len(self.model_claims.all())
