"""A path the user typed: ``~`` and ``~user`` expanded, and the ways that can fail (an unknown
user, no home folder, an empty string that would mean the current folder, a NUL byte)
reported as a `UsageError` naming where the path came from, not as a traceback or a folder
literally named ``~``."""

from __future__ import annotations

import os
from pathlib import Path

from gen.errors import UsageError


def expand_user(text: str, what: str) -> str:
    """``text`` with a leading ``~`` or ``~user`` expanded, as text (a trailing ``/``, which
    `gen sample --out` reads as "a folder", is kept); ``what`` names the option, field or
    variable it came from."""
    if not isinstance(text, str):
        raise UsageError(f"{what}: expected a path, got {type(text).__name__} {text!r:.40}")
    if not text.strip():
        raise UsageError(f"{what} is empty: name a file or folder ('.' for the current one)")
    if "\x00" in text:
        raise UsageError(f"{what}: a path cannot hold a NUL byte")
    if text.startswith("~"):
        head, sep, rest = text.partition("/")
        try:
            text = str(Path(head).expanduser()) + sep + rest
        except RuntimeError as exc:  # ~nosuchuser, or no home folder to expand ~ to
            raise UsageError(f"{what} {text!r:.80}: cannot expand '~' ({exc})") from None
    _check_length(text, what)
    return text


NAME_MAX, PATH_MAX = 255, 4096  # bytes, as Linux's file systems and macOS's take them


def _check_length(text: str, what: str) -> None:
    """A name or path longer than the OS takes: the error names it before any file is made
    (else an OSError 'File name too long' from wherever it is first used)."""
    raw = os.fsencode(text)
    if len(raw) >= PATH_MAX:
        raise UsageError(f"{what}: the path is {len(raw):,} bytes long; the OS takes fewer than "
                         f"{PATH_MAX}")
    long = next((part for part in raw.split(b"/") if len(part) > NAME_MAX), None)
    if long is not None:
        raise UsageError(f"{what}: the name {os.fsdecode(long[:40])!r}... is {len(long)} bytes "
                         f"long; the OS takes at most {NAME_MAX} in one name")


def user_path(text: str | Path, what: str) -> Path:
    """`expand_user` as a `Path`."""
    return Path(expand_user(str(text) if isinstance(text, Path) else text, what))
