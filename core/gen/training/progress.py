"""Training progress: a live rich bar on a terminal, plain lines where there is none (nohup,
SLURM, `| tee`), where a live bar would print nothing until the run ends. Silent when asked.

Both show the time elapsed and an ETA that is the earlier of the steps' end and the end of
``train.max_time``; the scores of ``train.eval_every`` get a line of their own either way (a
score is read later, a loss only watched)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Column
from rich.text import Text

# Keys of a log record that are not losses: shown on their own, or only in metrics.jsonl.
_NOT_LOSSES = ("step", "images_per_s", "elapsed_s")


class ProgressView:
    """Shows a run going from step ``start`` to ``total``: on a terminal (or in Jupyter) a bar
    advanced each step, its status set each log step; elsewhere one line on ``console`` (stderr
    by default) per log step. ``max_time`` is ``train.max_time``, counted from this view's
    start as the loop counts it from its first step."""

    def __init__(self, total: int, start: int, console: Console | None, enabled: bool,
                 max_time: float | None = None):
        self.total, self.start, self.max_time = total, start, max_time
        self._console = console or Console(stderr=True)
        live = self._console.is_terminal or self._console.is_jupyter  # where a bar redraws
        self._enabled = enabled
        self._lines = enabled and not live
        self._progress = Progress(
            TextColumn("[bold]step"),
            MofNCompleteColumn(),
            BarColumn(),
            _TimeColumn(max_time),
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

    def score(self, record: dict[str, Any], coverage: dict[str, Any] | None, best: bool) -> None:
        """An evaluation of ``train.eval_every``: a line of its own, above a live bar."""
        if self._enabled:
            self._console.print(_score_line(record, coverage, best, self.total), markup=False,
                                highlight=False, soft_wrap=True)

    def _line(self, record: dict[str, Any]) -> str:
        """``step 200/1000  d_loss 0.693  g_loss 0.712  812 img/s  elapsed 0:00:10  ETA
        0:00:49``."""
        step = record["step"]
        parts = [f"step {step}/{self.total}", *_losses(record), *_rate(record)]
        if "elapsed_s" in record:
            elapsed = record["elapsed_s"]
            per_step = elapsed / (step - self.start) if step > self.start else None
            parts.append(_times(elapsed, None if per_step is None else
                                per_step * (self.total - step), self.max_time))
        return "  ".join(parts)


class _TimeColumn(ProgressColumn):
    """The bar's ``elapsed 0:00:10  ETA 0:00:49``, the ETA from rich's recent speed."""

    def __init__(self, max_time: float | None):
        super().__init__(table_column=Column(no_wrap=True))
        self.max_time = max_time

    def render(self, task: Task) -> Text:
        return Text(_times(task.elapsed or 0.0, task.time_remaining, self.max_time),
                    style="progress.remaining")


def _times(elapsed: float, remaining: float | None, max_time: float | None) -> str:
    """``elapsed 0:00:10  ETA 0:00:49``: the ETA the earlier of ``remaining`` (by the steps;
    None: not known yet) and the end of ``max_time``, which it then names."""
    left = None if max_time is None else max(max_time - elapsed, 0.0)
    if left is not None and (remaining is None or left < remaining):
        eta = f"{_clock(left)} (train.max_time)"
    else:
        eta = "-:--:--" if remaining is None else _clock(remaining)
    return f"elapsed {_clock(elapsed)}  ETA {eta}"


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _score_line(record: dict[str, Any], coverage: dict[str, Any] | None, best: bool,
                total: int) -> str:
    """``step 500/1000  eval fid 307.6 (n 500, real 1000, lenet)  classes 9/10  new best``:
    the images a score is measured on beside it, as scores at different n do not compare."""
    if "generated_images" in record:
        measured = [f"n {record['generated_images']}", f"real {record['real_images']}"]
    else:
        measured = [f"n {record['images']}"] if "images" in record else []
    if "bits_per_dim" in record:
        measured.insert(0, f"{record['bits_per_dim']:.4f} bits/dim")
    if "extractor" in record:
        measured.append(record["extractor"])
    parts = [f"step {record['step']}/{total}",
             f"eval {record['metric']} {record['value']:.4g}"
             + (f" ({', '.join(measured)})" if measured else "")]
    if coverage is not None:
        parts.append(f"classes {coverage['classes_covered']}/{coverage['num_classes']}")
    if best:
        parts.append("new best")
    return "  ".join(parts)


def _losses(record: dict[str, Any]) -> list[str]:
    """The losses of a record, 3 significant digits each. Namespaced keys (``grad_norm/g``)
    are diagnostics for metrics.jsonl and TensorBoard, too many for one line."""
    return [f"{key} {value:.3g}" for key, value in record.items()
            if key not in _NOT_LOSSES and "/" not in key and isinstance(value, int | float)]


def _rate(record: dict[str, Any]) -> list[str]:
    return [f"{record['images_per_s']:.0f} img/s"] if "images_per_s" in record else []
