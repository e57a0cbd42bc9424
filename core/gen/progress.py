"""A progress bar for long work outside training (drawing samples, scoring them): on stderr,
only on a terminal, gone when the work is done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextmanager
def counting(total: int, what: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(k)``, to call as ``k`` more of ``total`` items are done."""
    console = Console(stderr=True)
    with Progress(TextColumn(what), MofNCompleteColumn(), BarColumn(), TimeRemainingColumn(),
                  console=console, transient=True,
                  disable=not (enabled and console.is_terminal)) as progress:
        task = progress.add_task(what, total=total)
        yield lambda k: progress.advance(task, k)
