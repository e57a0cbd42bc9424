"""Where gen keeps files between runs: ``$GEN_CACHE``, default ``~/.cache/gen`` (extractor
weights, decoded data)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("GEN_CACHE") or "~/.cache/gen").expanduser()
