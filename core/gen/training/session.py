"""What a run in progress holds (`Session`) and opens (`open_outputs`), what training returns
(`TrainResult`), and the images-per-second meter of its log lines."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gen.data.info import DataInfo
from gen.data.loader import BatchStream, StreamedBatches
from gen.distributed import World
from gen.errors import GenError
from gen.model import Model
from gen.run.layout import RunDir
from gen.run.lock import RunLock
from gen.run.metrics_log import MetricsLog, read_metrics, truncate_after
from gen.specs import RunSpec
from gen.tracking.base import TrackedRun, flatten
from gen.tracking.fanout import Trackers
from gen.training.health import HealthMonitor
from gen.training.schedules import Schedules


@dataclass
class TrainResult:
    run: RunDir
    step: int
    interrupted: bool
    checkpoint: Path | None
    sample: Path | None
    out_of_time: bool = False  # stopped by train.max_time (a planned stop), not by a signal

    @property
    def status(self) -> str:
        """How the run ended, as trackers are told (`gen.tracking.STATUSES`)."""
        if not self.interrupted:
            return "finished"
        return "stopped" if self.out_of_time else "interrupted"


@dataclass
class Session:
    """What a run in progress holds, from `Trainer._setup` to the end of `Trainer.train`.
    Only the main process has a lock, a log and an evaluator."""

    model: Model
    schedules: Schedules
    stream: BatchStream | StreamedBatches
    data: DataInfo
    world: World | None
    step: int
    lock: RunLock | None
    log: MetricsLog | None = None
    trackers: Trackers | None = None
    evaluator: Any = None
    losses: dict[str, torch.Tensor] | None = None  # of the latest step
    rates: dict[str, float] = field(default_factory=dict)  # lr/<optimizer> of the latest step
    checkpoint: Path | None = None
    sample: Path | None = None
    saved_at: int = 0
    sampled_at: int = 0
    out_of_time: bool = False
    health: HealthMonitor = field(default_factory=HealthMonitor)

    @property
    def main(self) -> bool:
        return self.world is None or self.world.is_main

    def kept(self, which: str = "the last checkpoint") -> str:
        """Where the run can be picked up again, for an error that stops it."""
        if self.checkpoint is not None:
            return f"{which} is {self.checkpoint}"
        if self.saved_at:  # resumed (or another process's), nothing saved here since
            return f"{which} is that of step {self.saved_at}"
        return "no checkpoint was written"

    def close(self, status: str = "failed") -> None:
        """Release what the session holds; the trackers are told ``status`` (a
        `TrainResult.status`, or how the run broke off)."""
        if isinstance(self.stream, StreamedBatches):
            self.stream.close()
        if self.trackers is not None:
            self.trackers.finish(status)
        if self.log is not None:
            self.log.close()
        if self.lock is not None:
            self.lock.release()


class Throughput:
    """Images per second between log lines, and seconds since training (re)started."""

    def __init__(self, stream: BatchStream | StreamedBatches):
        self.stream = stream
        self.start = self.tick = time.perf_counter()
        self.images = stream.images_drawn

    def since_last(self) -> dict[str, float]:
        now = time.perf_counter()
        rate = (self.stream.images_drawn - self.images) / (now - self.tick)
        self.tick, self.images = now, self.stream.images_drawn
        return {"images_per_s": rate, "elapsed_s": now - self.start}


def open_outputs(run: RunDir, s: Session, spec: RunSpec, info: dict[str, Any],
                 best: dict[str, Any] | None) -> None:
    """The main process's outputs, once it owns the folder: spec.json and run.json (``info``),
    and the metrics log. Lines, grids and a best.pt from after the step resumed from go:
    those steps are done again."""
    truncate_after(run.metrics_path, s.step)
    for record in read_metrics(run.metrics_path):  # a resumed run's rules go on
        s.health.observe(record)
    for step, grid in run.sample_grids().items():
        if step > s.step:
            grid.unlink(missing_ok=True)
    if best is None:
        (run.checkpoints / "best.pt").unlink(missing_ok=True)
    resolved = spec.model_dump(mode="json")
    run.write_json(run.spec_path, resolved)
    if s.trackers:  # each continues its tracked run where run.json keeps its state
        kept = _tracker_states(run)
        states = s.trackers.start(lambda name: TrackedRun(
            run.root, run.root.name, spec.model.name, resolved, flatten(resolved),
            kept.get(name), "train"))
        info = {**info, "trackers": {**kept, **states}}
    run.write_info(info)
    s.log = MetricsLog(run.metrics_path, s.trackers)


def _tracker_states(run: RunDir) -> dict[str, Any]:
    """What the trackers kept in run.json (a run trained before: a resume)."""
    if not run.info_path.is_file():
        return {}
    try:
        states = run.read_info().get("trackers")
    except GenError:  # a damaged run.json: rewritten below
        return {}
    return states if isinstance(states, dict) else {}
