"""Where gen keeps files between runs: ``$GEN_CACHE``, default ``~/.cache/gen`` (extractor
weights, decoded data)."""

from __future__ import annotations

import os
from pathlib import Path

from gen.paths import user_path


def cache_root() -> Path:
    given = os.environ.get("GEN_CACHE")
    return user_path(given, "$GEN_CACHE") if given else user_path(
        "~/.cache/gen", "the cache folder (~/.cache/gen; set $GEN_CACHE)")
