"""Light descriptors of registered models and feature extractors, and the lookup by name.

A plugin registers a `ModelInfo` per model: a name, a kind, a one-line summary and the *import
paths* of its spec and model classes. Nothing heavy is imported until a spec is validated
(`spec_class`) or a model is built (`model_class`). An `ExtractorInfo` is the same for a feature
extractor: its builder is imported only when features are computed.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Literal

from gen.errors import PluginError, UnknownExtractorError, UnknownModelError

Kind = Literal["adversarial", "latent-variable", "autoregressive"]
KINDS: tuple[str, ...] = ("adversarial", "latent-variable", "autoregressive")


def import_object(path: str) -> Any:
    """Import ``"package.module:Attribute"``."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:attribute', got {path!r}")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class ModelInfo:
    """What a plugin says about one model; cheap to create and to list."""

    name: str
    kind: Kind
    summary: str
    spec: str
    model: str
    conditional: bool = False
    plugin: str = "?"
    version: str = "?"

    def spec_class(self) -> type:
        return self._load(self.spec, "spec")

    def model_class(self) -> type:
        return self._load(self.model, "model")

    def _load(self, path: str, what: str) -> type:
        return _import_for(self.plugin, f"the {what} class of model {self.name!r}", path)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plugin": self.plugin,
            "version": self.version,
            "kind": self.kind,
            "conditional": self.conditional,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class ExtractorInfo:
    """What a plugin says about one feature extractor; cheap to create and to list."""

    name: str
    summary: str
    extractor: str  # "module:callable", called with an ExtractorRequest
    plugin: str = "?"
    version: str = "?"

    def builder(self) -> Any:
        return _import_for(self.plugin, f"extractor {self.name!r}", self.extractor)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "plugin": self.plugin, "version": self.version,
                "summary": self.summary}


@dataclass
class Registry:
    """Models and extractors by name. Registering a name twice is an error naming both
    plugins."""

    models: dict[str, ModelInfo] = field(default_factory=dict)
    extractors: dict[str, ExtractorInfo] = field(default_factory=dict)
    # Plugins that registered nothing, and why ("disabled by ...", "broken: ..."): a model
    # that seems unknown may belong to one of them.
    unloaded: dict[str, str] = field(default_factory=dict)

    def add(self, info: ModelInfo) -> None:
        if info.kind not in KINDS:
            raise PluginError(
                f"plugin {info.plugin!r}: model {info.name!r} has kind {info.kind!r}; "
                f"expected one of {', '.join(KINDS)}"
            )
        if ":" not in info.spec or ":" not in info.model:
            raise PluginError(
                f"plugin {info.plugin!r}: model {info.name!r} must give spec and model as "
                f"'module:Class' import paths"
            )
        _claim(self.models, info, "model")

    def add_extractor(self, info: ExtractorInfo) -> None:
        if ":" not in info.extractor:
            raise PluginError(
                f"plugin {info.plugin!r}: extractor {info.name!r} must be given as a "
                f"'module:callable' import path"
            )
        _claim(self.extractors, info, "extractor")

    def get_extractor(self, name: str) -> ExtractorInfo:
        try:
            return self.extractors[name]
        except KeyError:
            names = sorted(self.extractors)
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            known = ", ".join(names) if names else "none (is gen-core's plugin loaded?)"
            raise UnknownExtractorError(
                f"unknown feature extractor {name!r}.{hint} Known extractors: {known}."
            ) from None

    def get(self, name: str) -> ModelInfo:
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModelError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        unloaded = "".join(f" Plugin {p!r} is {why}." for p, why in sorted(self.unloaded.items()))
        if not self.models:
            return (
                f"unknown model {name!r}: no model plugins are loaded "
                f"(try `pip install gen-gan`).{unloaded}"
            )
        names = sorted(self.models)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown model {name!r}.{hint} Installed models: {', '.join(names)}.{unloaded}"

    def __iter__(self):
        return iter(sorted(self.models.values(), key=lambda m: (m.plugin, m.name)))

    def __len__(self) -> int:
        return len(self.models)


def _claim(table: dict[str, Any], info: Any, what: str) -> None:
    """Register ``info`` under its name; a name taken by another plugin is an error naming both."""
    other = table.get(info.name)
    if other is not None:
        raise PluginError(
            f"{what} name {info.name!r} is registered by two plugins: "
            f"{other.plugin!r} and {info.plugin!r}"
        )
    table[info.name] = info


def _import_for(plugin: str, what: str, path: str) -> Any:
    """Import a plugin's lazily named object; a failure is a PluginError naming all three."""
    try:
        return import_object(path)
    except Exception as exc:
        raise PluginError(
            f"plugin {plugin!r}: cannot import {what} from {path!r}: {type(exc).__name__}: {exc}"
        ) from exc
