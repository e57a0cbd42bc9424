"""Experiment trackers: a run's parameters, records, grids and end, sent to TensorBoard, MLflow,
Weights & Biases or a plugin's own tracker (`gen_register_trackers`, `train.trackers`).

metrics.jsonl stays the record of a run; a tracker gets a copy. So a tracker is never trusted
with anything the run needs: each one works in a thread of its own, a failure in it is a
warning naming it (the run goes on, the tracker is off for the rest of the run), and the end of
a run waits a bounded time for it. Only the main process of a ``--nproc`` run tracks.

`Tracker` (`base`) is what a plugin implements; `Trackers` (`fanout`) is what the trainer and
`gen evaluate` drive.
"""

from gen.tracking.base import STATUSES, TrackedRun, Tracker

__all__ = ["STATUSES", "TrackedRun", "Tracker"]
