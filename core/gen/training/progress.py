"""The live progress line: step, losses and images/s (rich; silent when asked)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressView:
    def __init__(self, total: int, start: int, console: Console | None, enabled: bool):
        self._progress = Progress(
            TextColumn("[bold]step"),
            MofNCompleteColumn(),
            BarColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task = self._progress.add_task("train", total=total, completed=start, status="")

    def __enter__(self) -> ProgressView:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def advance(self, step: int) -> None:
        self._progress.update(self._task, completed=step)

    def status(self, record: dict[str, float]) -> None:
        labels = {"images_per_s": "img/s"}
        parts = [
            f"{labels.get(k, k)} {v:.3g}" for k, v in record.items()
            if k not in ("step", "elapsed_s")
        ]
        self._progress.update(self._task, status="  ".join(parts))
