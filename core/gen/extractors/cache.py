"""Where extractor weights are kept: under `gen.cache.cache_root`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from gen.cache import cache_root


def extractor_cache() -> Path:
    """Trained or downloaded extractor weights: ``$GEN_CACHE/extractors``."""
    return cache_root() / "extractors"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
