"""Training progress: a live rich bar on a terminal, plain lines where there is none (nohup,
SLURM, `| tee`), where a live bar would print nothing until the run ends. Silent when asked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

# Keys of a log record that are not losses: shown on their own, or only in metrics.jsonl.
_NOT_LOSSES = ("step", "images_per_s", "elapsed_s")


class ProgressView:
    """Shows a run going from step ``start`` to ``total``: on a terminal (or in Jupyter) a bar
    advanced each step, its status set each log step; elsewhere one line on ``console`` (stderr
    by default) per log step."""

    def __init__(self, total: int, start: int, console: Console | None, enabled: bool):
        self.total, self.start = total, start
        self._console = console or Console(stderr=True)
        live = self._console.is_terminal or self._console.is_jupyter  # where a bar redraws
        self._lines = enabled and not live
        self._progress = Progress(
            TextColumn("[bold]step"),
            MofNCompleteColumn(),
            BarColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self._console,
            disable=not enabled or self._lines,
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

    def status(self, record: dict[str, Any]) -> None:
        """Show a log record: the bar's status on a terminal, else a line of its own."""
        if self._lines:
            self._console.print(self._line(record), markup=False, highlight=False,
                                soft_wrap=True)
        else:
            self._progress.update(self._task, status="  ".join(_losses(record) + _rate(record)))

    def _line(self, record: dict[str, Any]) -> str:
        """``step 200/1000  d_loss 0.693  g_loss 0.712  812 img/s  ETA 0:00:49``."""
        step = record["step"]
        parts = [f"step {step}/{self.total}", *_losses(record), *_rate(record)]
        if "elapsed_s" in record and step > self.start:
            per_step = record["elapsed_s"] / (step - self.start)
            parts.append(f"ETA {timedelta(seconds=round(per_step * (self.total - step)))}")
        return "  ".join(parts)


def _losses(record: dict[str, Any]) -> list[str]:
    """The losses of a record, 3 significant digits each. Namespaced keys (``grad_norm/g``)
    are diagnostics for metrics.jsonl and TensorBoard, too many for one line."""
    return [f"{key} {value:.3g}" for key, value in record.items()
            if key not in _NOT_LOSSES and "/" not in key and isinstance(value, int | float)]


def _rate(record: dict[str, Any]) -> list[str]:
    return [f"{record['images_per_s']:.0f} img/s"] if "images_per_s" in record else []
