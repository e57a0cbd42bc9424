"""Writing a report: open the runs, check ``out``, build the page, write it atomically; with
`watch_report`, again every so many seconds. Only ``out`` is written (through a temporary file
beside it that is renamed over it), and only a file that is new or a report gen wrote before:
a user's file is never overwritten.
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gen.arguments import optional_whole
from gen.errors import GenError, GenWarning, UsageError
from gen.fileio import atomic_write
from gen.paths import user_path

if TYPE_CHECKING:
    from gen.handle import Run

SUFFIXES = (".html", ".htm")


def render_report(runs: Iterable[str | Path | Run] | str | Path | Run, *,
                  refresh: float | None = None, memo: dict | None = None) -> str:
    """The report of ``runs`` (run folders or `Run` objects) as HTML text: one section per run
    and, for two or more, a comparison. ``refresh`` makes an open page reload itself every so
    many seconds; ``memo`` (a dict kept between calls) spares reading unchanged files again."""
    from gen.report import collect, compare, page

    opened = open_runs(runs)
    labels = collect.run_labels(opened)
    reports = [collect.collect(run, label, memo) for run, label in
               zip(opened, labels, strict=True)]
    comparison = compare.compare(reports) if len(reports) > 1 else None
    written = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return page.render(reports, comparison, written, refresh)


def write_report(runs: Iterable[str | Path | Run] | str | Path | Run, out: str | Path) -> Path:
    """Write the report of ``runs`` to ``out`` (an .html file, new or a report gen wrote) and
    return its path. Raises `gen.CheckpointError` for a path that is not a run, and
    `gen.UsageError` for an ``out`` gen may not write."""
    opened = open_runs(runs)
    path = check_out(out)
    return _write(path, render_report(opened))


def write_page(text: str, out: str | Path) -> Path:
    """Write a page made elsewhere (a sweep's, `gen.sweep.render_sweep_report`) to ``out``,
    under the same rules as a report."""
    return _write(check_out(out), text)


MAX_WATCH = 86_400  # seconds between rewrites at most: time.sleep overflows far beyond


def watch_report(runs: Iterable[str | Path | Run] | str | Path | Run, out: str | Path,
                 seconds: float, *, iterations: int | None = None,
                 on_write: Callable[[Path], None] | None = None) -> Path:
    """Write the report of ``runs`` to ``out`` every ``seconds`` until interrupted (Ctrl-C
    raises `KeyboardInterrupt` between or during writes; ``out`` always holds a whole page) or
    ``iterations`` writes. A failure after the first write is a `gen.GenWarning` and the page
    written before stays; ``on_write(out)`` is called after each write."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) \
            or not 0 < seconds <= MAX_WATCH:
        raise UsageError(f"--watch must be a number of seconds above 0 and at most {MAX_WATCH} "
                         f"(a day), got {seconds!r:.40}")
    iterations = optional_whole(iterations, "iterations")
    opened = open_runs(runs)
    path = check_out(out)
    memo: dict = {}
    done = 0
    while True:
        try:
            _write(path, render_report(opened, refresh=seconds, memo=memo))
        except GenError as exc:
            if done == 0:
                raise
            warnings.warn(GenWarning(f"report not rewritten: {exc}"), stacklevel=2)
        else:
            if on_write is not None:
                on_write(path)
        done += 1
        if iterations is not None and done >= iterations:
            return path
        time.sleep(seconds)


def open_runs(runs: Iterable[str | Path | Run] | str | Path | Run) -> list[Run]:
    """`Run` objects for run folders (opened for reading, never locked); `Run`s pass as they
    are. A path that is not a run is a `gen.CheckpointError` naming it."""
    from gen.handle import Run, load_run

    if isinstance(runs, str | Path | Run):
        runs = [runs]
    opened = [r if isinstance(r, Run) else load_run(r, device="cpu") for r in runs]
    if not opened:
        raise UsageError("name at least one run folder to report on")
    return opened


def check_out(out: str | Path) -> Path:
    """``out`` as a path gen may write the report to: an .html file in an existing folder,
    not there yet or a report gen wrote (a user's file is never overwritten)."""
    from gen.report.page import MARKER

    path = user_path(out, "--out")
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--out must end in .html (the report is one HTML file), got "
                         f"{str(out)!r}")
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder; name the .html file to write")
    if not path.parent.is_dir():
        raise UsageError(f"--out: folder {path.parent} does not exist; gen writes only the "
                         "report file, so make the folder first or choose another --out")
    if path.exists():
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError as exc:
            raise GenError(f"cannot read --out {path}: {exc.strerror or exc}") from None
        if MARKER.encode() not in head:
            raise UsageError(f"--out {path} exists and is not a report gen wrote; gen does "
                             "not overwrite other files: choose another --out")
    return path


def _write(path: Path, text: str) -> Path:
    data = text.encode("utf-8")
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
