"""Progress of long work outside training (drawing samples, scoring them, a likelihood): on
stderr, a bar on a terminal, gone when the work is done; where there is none (piped, a log
file) a plain line now and then, where a bar would show nothing until the work ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

PLAIN_EVERY = 30.0  # seconds between plain lines: work done sooner prints none


@contextmanager
def counting(total: int, what: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(k)``, to call as ``k`` more of ``total`` items are done."""
    console = Console(stderr=True)
    if enabled and not (console.is_terminal or console.is_jupyter):
        yield _plain_lines(total, what, console)
        return
    with Progress(TextColumn(what), MofNCompleteColumn(), BarColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not enabled) as progress:
        task = progress.add_task(what, total=total)
        yield lambda k: progress.advance(task, k)


def _plain_lines(total: int, what: str, console: Console) -> Callable[[int], None]:
    """``advance(k)`` printing ``what 150/10000  elapsed 0:00:30  ETA 0:33:00`` (as training's
    lines read) once `PLAIN_EVERY` seconds have passed since the start or the last line."""
    start = last = time.monotonic()
    done = 0

    def advance(k: int) -> None:
        nonlocal done, last
        done += k
        now = time.monotonic()
        if now - last < PLAIN_EVERY:
            return
        last = now
        elapsed = now - start
        eta = _clock(elapsed * (total - done) / done) if done else "-:--:--"
        console.print(f"{what} {done}/{total}  elapsed {_clock(elapsed)}  ETA {eta}",
                      markup=False, highlight=False, soft_wrap=True)

    return advance


def _clock(seconds: float) -> str:
    try:
        return str(timedelta(seconds=round(seconds)))
    except OverflowError:  # beyond timedelta's 999,999,999 days
        return "more than 999,999,999 days"
