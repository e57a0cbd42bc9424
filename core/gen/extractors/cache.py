"""Where gen keeps files between runs: ``$GEN_CACHE``, default ``~/.cache/gen``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("GEN_CACHE") or "~/.cache/gen").expanduser()


def extractor_cache() -> Path:
    """Trained or downloaded extractor weights: ``$GEN_CACHE/extractors``."""
    return cache_root() / "extractors"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
