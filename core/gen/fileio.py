"""Atomic file output: a reader (or a crash) never sees a half-written file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from gen.errors import GenError, WriteError


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, flush it to disk, then rename it
    over ``path``. On any failure (a full disk, say) ``path`` keeps its previous content, no
    temporary file is left where it can be removed, and an OS error becomes a `WriteError`
    naming ``path`` (removing the temporary file never hides it: on a read-only file system
    that fails too)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_link(source: Path, path: Path) -> Path:
    """Make ``path`` name the same content as ``source`` (hard link, else copy), atomically."""
    import shutil

    def write(tmp: Path) -> None:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)

    return atomic_write(path, write)


def make_folder(folder: Path, made: list[Path] | None = None, what: str = "--out") -> Path:
    """Make ``folder`` and the parents it lacks, adding those it makes to ``made`` (deepest
    first) so a command that fails can remove them again; a file in the way is a `GenError`
    naming it (and ``what``, the option the path came from), anything else the OS refuses a
    `WriteError`."""
    if made is not None:
        made += [p for p in (folder, *folder.parents) if not p.exists() and not p.is_symlink()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise GenError(f"{what}: cannot make folder {folder}: a file is in the way") from None
    except OSError as exc:
        raise WriteError(folder, exc) from None
    return folder


@contextlib.contextmanager
def unmade_on_failure(made: list[Path]) -> Iterator[None]:
    """Remove again the folders in ``made`` (deepest first, only empty ones) if the block
    fails: a command refused or crashed after making its output's folders leaves none."""
    try:
        yield
    except BaseException:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
