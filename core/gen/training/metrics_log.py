"""metrics.jsonl (always) and TensorBoard scalars (when the `tensorboard` extra is installed)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from gen.errors import WriteError
from gen.fileio import atomic_write_text


class MetricsLog:
    """Appends one JSON object per logged step; flushed each line so a killed run keeps them."""

    def __init__(self, path: Path, tensorboard_dir: Path | None = None):
        self.path = path
        try:
            self._file = open(path, "a")  # noqa: SIM115 - lives as long as the run
        except OSError as exc:
            raise WriteError(path, exc) from None
        self._tb = _tensorboard_writer(tensorboard_dir) if tensorboard_dir else None

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk: the checkpoints so far are intact
            raise WriteError(self.path, exc) from None
        if self._tb is not None:
            step = record["step"]
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # every line was flushed; a failed write said so
            self._file.close()
        if self._tb is not None:
            self._tb.close()


def truncate_after(path: Path, step: int) -> None:
    """Drop lines logged after ``step``: the run logs those steps again."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
    atomic_write_text(path, "".join(line + "\n" for line in kept))


def _tensorboard_writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the optional extra is not installed
        return None
    return SummaryWriter(str(folder))
