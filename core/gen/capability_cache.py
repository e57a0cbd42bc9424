"""What `gen list-models` shows of each model, kept between runs so that listing imports no
torch.

A model's capabilities follow from its class (`gen.capabilities`), and reading the class
imports it, and torch with it: 2-3 s of CPU where discovery alone takes 0.2 s. So the
capabilities of a model of an installed distribution are kept in
``$GEN_CACHE/capabilities.json`` with everything they follow from: the distribution's name and
version, the model's import path, and the path, size and modification time of every source
file of the model's top-level package, of each module its class inherits from (gen's
`gen.model`, say) and of `gen.capabilities`, which reads it. An editable install is read again
when one of those files changes, and an edit elsewhere in gen costs nothing. A plugin that is
no distribution (a module of ``$GEN_PLUGINS``, a test's) is being written: it is read from its
classes every time, as is a class that cannot be loaded (its error is shown, never kept). A
cache that cannot be read or written is passed over: it only saves time.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from gen.cache import cache_root
from gen.capabilities import capabilities, samplers
from gen.errors import GenError
from gen.fileio import atomic_write_text
from gen.plugins import ENTRY_POINT_GROUP
from gen.registry import ModelInfo

FORMAT = 1  # of the file; another format is read as an empty cache
_SUFFIXES = (*importlib.machinery.SOURCE_SUFFIXES, *importlib.machinery.EXTENSION_SUFFIXES)

# capabilities (None: the class cannot be loaded), samplers (name -> options; None for a
# one-pass model), and why the class cannot be loaded
Listing = tuple[list[str] | None, dict[str, list[str]] | None, str | None]


def cache_file() -> Path:
    return cache_root() / "capabilities.json"


def listings(models: Sequence[ModelInfo]) -> dict[str, Listing]:
    """Each model's `Listing`, by qualified name: from the cache where its key still holds,
    else from its class (and then kept, where it is of a distribution and loads)."""
    dists = _distributions()
    kept = _read()
    found: dict[str, Listing] = {}
    sources: dict[str, Any] = {}  # top-level package -> its files, looked at once a listing
    changed = False
    for info in models:
        key = _key(info, dists.get(info.plugin), sources)
        entry = kept.get(info.qualified)
        if key is not None and _fresh(entry, key):
            found[info.qualified] = (entry["capabilities"], entry["samplers"], None)
            continue
        cls, found[info.qualified] = _load(info)
        files = None if key is None or cls is None else _inherited_files(cls)
        if files is not None:
            caps, kinds, _ = found[info.qualified]
            kept[info.qualified] = {"key": key, "files": files, "capabilities": caps,
                                    "samplers": kinds}
            changed = True
    if changed:
        _write(kept)
    return found


def _load(info: ModelInfo) -> tuple[type | None, Listing]:
    """The model's class (imported, and torch with it) and what gen offers it; None and the
    error where the class cannot be loaded."""
    try:
        cls = info.model_class()
    except GenError as exc:
        return None, (None, None, str(exc))
    return cls, (capabilities(cls), samplers(cls), None)


def _distributions() -> dict[str, metadata.Distribution]:
    """Plugin name -> the installed distribution whose entry point it is."""
    return {ep.name: ep.dist for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
            if getattr(ep, "dist", None) is not None}


def _key(info: ModelInfo, dist: metadata.Distribution | None,
         sources: dict[str, Any]) -> str | None:
    """The key of the model's cache entry; None where it is not to be cached (no
    distribution, another version registered than the one installed, no files to key on)."""
    if dist is None or dist.version != info.version:
        return None
    top = info.model.partition(":")[0].split(".")[0]
    if top not in sources:
        sources[top] = _source_files(top)
    own = sources[top]
    if own is None:
        return None
    parts = [FORMAT, dist.metadata["Name"], dist.version, info.model, own]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _inherited_files(cls: type) -> list[list[Any]] | None:
    """[path, mtime in ns, size] of the modules ``cls`` and its bases are defined in, and of
    `gen.capabilities`: what its capabilities follow from beyond its own package (None where
    one cannot be looked at)."""
    modules = {c.__module__ for c in cls.__mro__} | {capabilities.__module__}
    files = {getattr(sys.modules.get(m), "__file__", None) for m in modules}
    try:
        return [[f, *_stat(Path(f))] for f in sorted(filter(None, files))]
    except OSError:  # a module imported from an archive, a file removed since
        return None


def _stat(path: Path) -> tuple[int, int]:
    s = path.stat()
    return s.st_mtime_ns, s.st_size


def _source_files(top: str) -> tuple[tuple[str, int, int], ...] | None:
    """(path, mtime in ns, size) of every source file of the top-level module or package
    ``top``, found without importing it (bytecode caches aside: Python rewrites them); None
    where it has no files (a module made in memory, a built-in)."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without a spec
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        paths = [p for root in spec.submodule_search_locations for p in Path(root).rglob("*")
                 if p.suffix in _SUFFIXES and "__pycache__" not in p.parts]
    elif spec.origin and Path(spec.origin).suffix in _SUFFIXES:
        paths = [Path(spec.origin)]
    else:
        return None
    try:
        return tuple((str(p), *_stat(p)) for p in sorted(paths))
    except OSError:  # a file removed while we look
        return None


def _fresh(entry: Any, key: str) -> bool:
    """Whether ``entry`` is one `listings` wrote (a hand-edited or damaged one is not) under
    ``key``, its inherited files unchanged."""
    if not isinstance(entry, dict) or entry.get("key") != key:
        return False
    files = entry.get("files")
    try:
        if not isinstance(files, list) or any(list(_stat(Path(f))) != [t, n]
                                              for f, t, n in files):
            return False
    except (OSError, TypeError, ValueError):  # a file gone; a malformed entry
        return False
    caps, kinds = entry.get("capabilities"), entry.get("samplers")
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        return False
    return kinds is None or (isinstance(kinds, dict) and all(
        isinstance(k, str) and isinstance(v, list) for k, v in kinds.items()))


def _read() -> dict[str, Any]:
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError, GenError):  # none yet, unreadable, not JSON, no cache folder
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    models = data.get("models")
    return models if isinstance(models, dict) else {}


def _write(models: dict[str, Any]) -> None:
    try:
        path = cache_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"format": FORMAT, "models": models}, indent=1))
    except (OSError, GenError):  # read-only, full, or $GEN_CACHE unusable: the next listing
        pass  # reads the classes again
