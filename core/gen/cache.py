"""Where gen keeps files between runs: ``$GEN_CACHE``, default ``~/.cache/gen`` (extractor
weights, decoded data)."""

from __future__ import annotations

import os
from pathlib import Path

from gen.errors import UsageError
from gen.paths import user_path


def cache_root() -> Path:
    """The cache folder; a relative ``$GEN_CACHE`` is a `UsageError`: it would name another
    folder in every working directory, and scatter caches among the user's files (the XDG base
    directory rules refuse relative paths for the same reason)."""
    given = os.environ.get("GEN_CACHE")
    if not given:
        return user_path("~/.cache/gen", "the cache folder (~/.cache/gen; set $GEN_CACHE)")
    path = user_path(given, "$GEN_CACHE")
    if not path.is_absolute():
        raise UsageError(f"$GEN_CACHE is {given!r:.80}: expected an absolute path (or one under "
                         "~), not one relative to the working folder")
    return path
