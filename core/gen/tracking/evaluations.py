"""`gen evaluate`'s records for the trackers of the run they score: each tracker reopens its
tracked run (the state run.json keeps) and adds them, so the scores of a finished run land
where its training curves are."""

from __future__ import annotations

import warnings
from typing import Any

from gen.errors import GenError, GenWarning
from gen.run.layout import RunDir
from gen.tracking.base import TrackedRun, flatten
from gen.tracking.fanout import Trackers


def open_for_evaluation(run: RunDir) -> Trackers | None:
    """The run's trackers (its spec's ``train.trackers``), started on its tracked runs; None
    where it has none. A tracker that cannot be opened here is a warning: the records still go
    to metrics.jsonl."""
    try:
        spec = run.read_spec()
        kept = run.read_info().get("trackers")
        trackers = Trackers.build(spec.get("train", {}).get("trackers"))
    except GenError as exc:
        warnings.warn(f"the run's trackers are not told of these scores: {exc}", GenWarning,
                      stacklevel=2)
        return None
    if not trackers:
        return None
    kept = kept if isinstance(kept, dict) else {}
    params = flatten(spec)
    model = str(spec.get("model", {}).get("name", "?"))
    trackers.start(lambda name: TrackedRun(run.root, run.root.name, model, spec, params,
                                           _state(kept, name), "evaluate"))
    return trackers


def _state(kept: dict[str, Any], name: str) -> dict[str, Any] | None:
    state = kept.get(name)
    return state if isinstance(state, dict) else None
