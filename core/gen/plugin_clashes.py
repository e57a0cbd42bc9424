"""What can replace a plugin without an error, found in the installed distributions' metadata.

Two distributions may declare one entry-point name (gen loads one plugin under a name), or hold
one import package: pip lets a second distribution's files overwrite the first's (or a copy
earlier on sys.path hides it), so a plugin's entry point runs another's code. A third party's
``gen_flow`` took glow away that way, with no error anywhere. These are warnings, shown by
``gen plugins`` and the listing commands.
"""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict
from collections.abc import Iterable
from importlib import metadata


def clashes(entry_points: Iterable[metadata.EntryPoint]) -> list[str]:
    """One warning per entry-point name two distributions declare and per import package of a
    plugin (or of the core) that two distributions hold."""
    entry_points = list(entry_points)
    declared: defaultdict[str, set[str]] = defaultdict(set)
    for ep in entry_points:
        declared[ep.name].add(f"{_dist_name(ep)} ({ep.value})")
    warnings = [
        f"entry point {name!r} of group 'gen' is declared by {' and '.join(sorted(by))}: gen "
        f"loads one plugin under a name; uninstall one, or rename the other's entry point "
        f"(not gen-*)"
        for name, by in sorted(declared.items()) if len(by) > 1]
    packages = {"gen": "gen-core"}  # a distribution holding `gen` would replace the core
    packages.update({ep.module.partition(".")[0]: ep.name for ep in entry_points})
    for package, holders in sorted(_holders(set(packages)).items()):
        if len(holders) > 1 and not _namespace(package):
            warnings.append(
                f"import package {package!r} of plugin {packages[package]!r} is provided by "
                f"distributions {', '.join(sorted(holders))}: the files of one replace or hide "
                f"the other's, so the plugin may run the other's code; uninstall them and "
                f"reinstall the one you mean (name a package of your own other than gen_*)")
    return warnings


def _holders(packages: set[str]) -> dict[str, set[str]]:
    """Import package -> the distributions whose files hold it, read as
    `importlib.metadata.packages_distributions` reads them (top_level.txt, else RECORD) but
    for ``packages`` only: that one parses every RECORD (0.3 s in a usual environment)."""
    found: dict[str, set[str]] = {package: set() for package in packages}
    for dist in metadata.distributions():
        top_level = dist.read_text("top_level.txt")
        if top_level is not None:
            held = packages & set(top_level.split())
        else:
            record = "\n" + (dist.read_text("RECORD") or "")
            held = {p for p in packages if f"\n{p}/" in record or f"\n{p}.py," in record}
        for package in held:  # one distribution seen twice (an egg-info beside) counts once
            found[package].add(_normalized(dist.metadata["Name"] or "?"))
    return found


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return _normalized(dist.metadata["Name"] or "?") if dist is not None else "?"


def _normalized(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503): Gen_Flow is gen-flow."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _namespace(package: str) -> bool:
    """A namespace package (no __init__.py) is shared by distributions on purpose."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a module made in a test has no spec
        return False
    return spec is not None and spec.origin is None
