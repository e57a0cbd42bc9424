"""metrics.jsonl (always) and TensorBoard scalars and sample grids (when the `tensorboard`
extra is installed)."""

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
            for tag, value in _scalars(record).items():
                self._tb.add_scalar(tag, value, record["step"])

    def write_grid(self, step: int, images: Any) -> None:
        """The sample grid of ``step`` (an (n, C, H, W) tensor in [-1, 1]) as TensorBoard image
        ``samples``, laid out as the PNG grid is; nothing without TensorBoard."""
        if self._tb is None:
            return
        from torchvision.utils import make_grid

        from gen.images import grid_rows, to_uint8

        grid = make_grid(to_uint8(images), nrow=grid_rows(images.shape[0]), padding=2)
        self._tb.add_image("samples", grid, step)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # every line was flushed; a failed write said so
            self._file.close()
        if self._tb is not None:
            self._tb.close()


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
        except (json.JSONDecodeError, RecursionError):  # cut short by a kill; not gen's
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


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    """TensorBoard scalars of a record: its top-level numbers, and an evaluation's score as
    ``eval/<metric>`` (plus ``eval/<metric>_bits_per_dim`` for a likelihood). The trainer's
    flat ``eval_<metric>`` copy, kept for readers of metrics.jsonl, would be the same curve."""
    scalars = {k: v for k, v in record.items() if k != "step" and _is_number(v)}
    evaluation = record.get("evaluation")
    if isinstance(evaluation, dict) and isinstance(evaluation.get("metric"), str):
        metric = evaluation["metric"]
        scalars.pop(f"eval_{metric}", None)
        for key, tag in (("value", metric), ("bits_per_dim", f"{metric}_bits_per_dim")):
            if _is_number(evaluation.get(key)):
                scalars[f"eval/{tag}"] = evaluation[key]
    return scalars


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def _tensorboard_writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the optional extra is not installed
        return None
    return SummaryWriter(str(folder))
