"""What a decoded cache of files is keyed by: their names, sizes and modification times
(a stat per file, never their contents, so checking a 200k-image folder stays cheap)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def stat_fingerprint(*paths: Path) -> str:
    """A digest of ``paths`` (files, or every file under a folder): any file added, removed,
    resized or touched changes it."""
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            digest.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()
