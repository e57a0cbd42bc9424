"""Descriptors of what plugins register besides models (feature extractors, data sets,
trackers), and the lazy import behind all of them: a descriptor names its code by import path,
imported only when used, so discovery stays cheap (no torch import)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from typing import Any

from gen.errors import PluginError


def import_object(path: str) -> Any:
    """Import ``"package.module:Attribute"``."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:attribute', got {path!r}")
    return getattr(importlib.import_module(module_name), attr)



def import_for(plugin: str, what: str, path: str) -> Any:
    """Import a plugin's lazily named object; a failure (a `SystemExit` too) is a PluginError
    naming all three. What the import prints goes to stderr: stdout may be a spec or JSON."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return import_object(path)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise PluginError(
            f"plugin {plugin!r}: cannot import {what} from {path!r}: {type(exc).__name__}: {exc}"
        ) from exc


@dataclass(frozen=True)
class ExtractorInfo:
    """What a plugin says about one feature extractor; cheap to create and to list."""

    name: str
    summary: str
    extractor: str  # "module:callable", called with an ExtractorRequest
    plugin: str = "?"
    version: str = "?"

    @property
    def qualified(self) -> str:
        """``PLUGIN:NAME``: picks this extractor even where another plugin registers its
        name."""
        return f"{self.plugin}:{self.name}"

    def builder(self) -> Any:
        return import_for(self.plugin, f"extractor {self.name!r}", self.extractor)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "plugin": self.plugin, "version": self.version,
                "summary": self.summary}


@dataclass(frozen=True)
class DatasetInfo:
    """What a plugin says about one data set; cheap to create and to list."""

    name: str
    summary: str
    dataset: str  # "module:callable", called with a DatasetRequest
    options: str | None = None  # "module:Class", a pydantic class validating data.options
    labelled: bool | None = None  # None: depends on the files (an image folder's sub-folders)
    plugin: str = "?"
    version: str = "?"

    @property
    def qualified(self) -> str:
        """``PLUGIN:NAME``: picks this data set even where another plugin registers its name."""
        return f"{self.plugin}:{self.name}"

    def builder(self) -> Any:
        return import_for(self.plugin, f"data set {self.name!r}", self.dataset)

    def options_class(self) -> type | None:
        if self.options is None:
            return None
        return import_for(self.plugin, f"the options of data set {self.name!r}", self.options)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "plugin": self.plugin, "version": self.version,
                "summary": self.summary, "labelled": self.labelled}


@dataclass(frozen=True)
class TrackerInfo:
    """What a plugin says about one experiment tracker (`gen.tracking`); cheap to create and
    to list. ``requires`` names the modules the tracker imports (checked present, not
    imported, when a spec asks for it) and ``install`` the pip command that provides them."""

    name: str
    summary: str
    tracker: str  # "module:Class", a `gen.tracking.Tracker` taking its validated options
    options: str | None = None  # "module:Class", a pydantic class validating its options
    requires: tuple[str, ...] = ()
    install: str | None = None
    plugin: str = "?"
    version: str = "?"

    @property
    def qualified(self) -> str:
        """``PLUGIN:NAME``: picks this tracker even where another plugin registers its name."""
        return f"{self.plugin}:{self.name}"

    def tracker_class(self) -> type:
        return import_for(self.plugin, f"tracker {self.name!r}", self.tracker)

    def options_class(self) -> type | None:
        if self.options is None:
            return None
        return import_for(self.plugin, f"the options of tracker {self.name!r}", self.options)

    def missing(self) -> list[str]:
        """The modules of ``requires`` that are not installed (looked up, not imported)."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "plugin": self.plugin, "version": self.version,
                "summary": self.summary, "installed": not self.missing()}
