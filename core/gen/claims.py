"""Names that plugins claim: one sort of registered thing (models, extractors, data sets,
trackers) by name, then by plugin, and how a name resolves, bare or as ``PLUGIN:NAME``."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from gen.errors import AmbiguousNameError, PluginError


def split_name(name: str) -> tuple[str | None, str]:
    """``"PLUGIN:NAME"`` -> ``(PLUGIN, NAME)``; a bare ``"NAME"`` -> ``(None, NAME)``."""
    plugin, sep, bare = name.rpartition(":")
    return (plugin, bare) if sep else (None, name)


class Named(Protocol):
    """What plugins register: a model, an extractor, a data set or a tracker descriptor."""

    name: str
    plugin: str

    @property
    def qualified(self) -> str: ...


Info = TypeVar("Info", bound=Named)


class Claims(Generic[Info]):
    """One sort of registered thing (models or extractors) by name, then by plugin.

    A name several plugins register is kept for each of them, so one plugin can never take
    another's models away by sorting first; such a contested name resolves only qualified.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.by_name: dict[str, dict[str, Info]] = {}

    def add(self, info: Info) -> None:
        if ":" in info.name:
            raise PluginError(f"plugin {info.plugin!r}: {self.what} name {info.name!r} may not "
                              "contain ':' (it separates plugin and name)")
        claims = self.by_name.setdefault(info.name, {})
        if info.plugin in claims:
            raise PluginError(f"plugin {info.plugin!r} registers {self.what} {info.name!r} twice")
        claims[info.plugin] = info

    def all(self) -> list[Info]:
        return [info for claims in self.by_name.values() for info in claims.values()]

    def by_resolvable_name(self) -> dict[str, Info]:
        """Every info under the name that picks it: bare, or ``PLUGIN:NAME`` where contested."""
        return {(info.name if len(claims) == 1 else info.qualified): info
                for claims in self.by_name.values() for info in claims.values()}

    def contested(self) -> dict[str, list[str]]:
        """Names several plugins register -> those plugins."""
        return {name: sorted(claims) for name, claims in self.by_name.items() if len(claims) > 1}

    def find(self, name: str) -> Info | None:
        """What ``name`` (bare or ``PLUGIN:NAME``) picks, or None; a contested bare name is an
        `AmbiguousNameError` saying how to choose."""
        plugin, bare = split_name(name)
        claims = self.by_name.get(bare, {})
        if plugin is not None:
            return claims.get(plugin)
        if len(claims) > 1:
            choices = " or ".join(repr(info.qualified) for _, info in sorted(claims.items()))
            owners = ", ".join(repr(p) for p in sorted(claims))
            raise AmbiguousNameError(
                f"{self.what} name {name!r} is registered by {len(claims)} plugins ({owners}): "
                f"name the one you mean as PLUGIN:{self.what.upper()}, {choices}"
            )
        return next(iter(claims.values()), None)
