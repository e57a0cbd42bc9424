"""metrics.jsonl, the record of a run, and a copy of each record and grid for its trackers."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gen.errors import WriteError
from gen.fileio import atomic_write_text
from gen.run.layout import refuse_link


class Sink(Protocol):
    """Where copies go (`gen.tracking.fanout.Trackers`, which knows nothing of this file)."""

    def log(self, step: int, record: dict[str, Any]) -> None: ...

    def image(self, step: int, name: str, image: np.ndarray) -> None: ...


class MetricsLog:
    """Appends one JSON object per logged step; flushed each line so a killed run keeps them.
    A log that is a symbolic link is refused: appending would write into the file it names."""

    def __init__(self, path: Path, trackers: Sink | None = None):
        self.path = path
        refuse_link(path)
        try:
            self._file = open(path, "a")  # noqa: SIM115 - lives as long as the run
        except OSError as exc:
            raise WriteError(path, exc) from None
        self.trackers = trackers or None

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk: the checkpoints so far are intact
            raise WriteError(self.path, exc) from None
        if self.trackers is not None:
            self.trackers.log(record["step"], json.loads(line))  # theirs, read in a thread

    def write_grid(self, step: int, images: Any) -> None:
        """The sample grid of ``step`` (an (n, C, H, W) tensor in [-1, 1]) for the trackers as
        image ``samples``, laid out as the PNG grid is."""
        if self.trackers is None:
            return
        from torchvision.utils import make_grid

        from gen.images import grid_rows, to_uint8

        grid = make_grid(to_uint8(images), nrow=grid_rows(images.shape[0]), padding=2)
        self.trackers.image(step, "samples", grid.permute(1, 2, 0).cpu().numpy())

    def close(self) -> None:
        with contextlib.suppress(OSError):  # every line was flushed; a failed write said so
            self._file.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every record of a metrics log, in order. A line cut short by a kill (or anything else
    that is not a JSON object with a step) is skipped; a missing log has no records."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # cut short by a kill; not gen's
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def truncate_after(path: Path, step: int) -> None:
    """Drop records logged after ``step``: the run logs those steps again."""
    if not path.is_file():
        return
    kept = [json.dumps(r) for r in read_metrics(path) if r["step"] <= step]
    atomic_write_text(path, "".join(line + "\n" for line in kept))
