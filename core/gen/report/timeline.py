"""When each step happened: wall time and images seen, read from the training log.

A run is trained in one or more sessions (`gen train`, then each `--resume`). Each log line
has ``elapsed_s``, the seconds since its session's first step, and ``images_per_s`` since the
line before; a session stopped on ``train.max_time`` ends with a ``stopped`` line whose
``train_s`` covers the time after its last log line. So:

- a session starts where ``elapsed_s`` falls back (or after a ``stopped`` line);
- its length is its last ``elapsed_s`` or its ``train_s``, whichever is later, and the run's
  wall time is the sum of its sessions';
- images drawn between two lines are ``images_per_s`` times the seconds between them, which
  gives the images one step draws (batch size times the batches a step takes: a WGAN critic
  draws one per critic update);
- a resumed session started from the step its ``stopped`` line names or, without one (killed,
  Ctrl-C), from its first line's step less the steps its first line's images stand for: the
  log after the checkpoint it resumed from was dropped, so the step itself is not logged.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from gen.report.values import is_number, number


@dataclass
class Session:
    """One `gen train` of a run: the step it started from and its (step, seconds) points."""

    start: int
    offset: float = 0.0  # wall seconds of the sessions before it
    points: list[tuple[int, float]] = field(default_factory=list)  # seconds since its start
    first_images: float | None = None  # images drawn up to its first log line
    stopped: bool = False  # ended by a ``stopped`` line

    @property
    def length(self) -> float:
        return max((s for _, s in self.points), default=0.0)


@dataclass
class Timeline:
    sessions: list[Session]
    images_per_step: float | None  # images drawn from the data per step (all processes)

    @property
    def wall_time(self) -> float | None:
        """Seconds spent training, over every session; None without a timed log line."""
        if not any(s.points for s in self.sessions):
            return None
        return sum(s.length for s in self.sessions)

    @property
    def resumed_at(self) -> list[int]:
        return [s.start for s in self.sessions[1:]]

    def wall(self, step: int) -> float | None:
        """Wall seconds at ``step``, interpolated between the points of its session."""
        if self.wall_time is None:
            return None
        starts = [s.start for s in self.sessions]
        session = self.sessions[max(bisect_left(starts, step) - 1, 0)]
        known = [(session.start, 0.0), *session.points]
        steps = [p[0] for p in known]
        i = bisect_left(steps, step)
        if i >= len(known):
            return session.offset + known[-1][1]
        if steps[i] == step or i == 0:
            return session.offset + known[i][1]
        (s0, t0), (s1, t1) = known[i - 1], known[i]
        return session.offset + t0 + (t1 - t0) * (step - s0) / (s1 - s0)

    def images(self, step: int) -> float | None:
        return None if self.images_per_step is None else step * self.images_per_step


def timeline(records: list[dict[str, Any]], batch_size: int | None) -> Timeline:
    """The sessions of a run and the images per step, from its metrics.jsonl records."""
    sessions: list[Session] = []
    rates: list[float] = []  # images per step between two lines of one session
    last: tuple[int, float] | None = None  # the previous timed point of this session
    for record in records:
        step, seconds, rate = _timed(record)
        if seconds is None:
            continue
        stop = isinstance(record.get("stopped"), dict)
        if last is None or sessions[-1].stopped or seconds < last[1]:
            sessions.append(Session(start=0))
            last = None
        session = sessions[-1]
        if rate is not None and not stop:
            drawn = rate * (seconds - (last[1] if last else 0.0))
            if last is None and len(sessions) > 1:  # resumed from a step not logged
                session.first_images = drawn
            elif step > (begun := last[0] if last else 0):
                rates.append(drawn / (step - begun))
        session.points.append((step, seconds))
        session.stopped = stop
        last = (step, seconds)
    per_step = _per_step(rates, batch_size)
    _starts(sessions, per_step)
    return Timeline(sessions, per_step)


def _timed(record: dict[str, Any]) -> tuple[int, float | None, float | None]:
    """A log line's (step, elapsed_s, images_per_s), a ``stopped`` line's (step, train_s,
    None); None seconds for any other record."""
    stop = record.get("stopped")
    if isinstance(stop, dict):
        return record["step"], number(stop.get("train_s")), None
    seconds = number(record.get("elapsed_s"))
    rate = record.get("images_per_s")
    return record["step"], seconds, float(rate) if is_number(rate) and math.isfinite(rate) \
        else None


def _per_step(rates: list[float], batch_size: int | None) -> float | None:
    """The images a step draws: the median of the log's, a whole number of batches; one
    batch where the log has no rate."""
    if not rates:
        return None if batch_size is None else float(batch_size)
    median = statistics.median(rates)
    if batch_size is None:
        return median
    return float(batch_size * max(1, round(median / batch_size)))


def _starts(sessions: list[Session], per_step: float | None) -> None:
    """Each resumed session's first step and wall-time offset (see the module's docstring)."""
    offset = 0.0
    for before, session in zip([None, *sessions], sessions, strict=False):
        session.offset = offset
        offset += session.length
        if before is None:
            continue
        ended = before.points[-1][0] if before.points else 0
        first = session.points[0][0] if session.points else ended
        if before.stopped:
            start = ended
        elif per_step and session.first_images is not None:
            start = first - round(session.first_images / per_step)
        else:
            start = ended
        session.start = min(max(start, ended), max(first - 1, ended))
