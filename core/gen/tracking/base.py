"""The tracker contract, and the record reading every tracker shares (flattened parameters,
scalar tags, the words of a health warning or a stop).

A tracker receives exactly what metrics.jsonl holds, as the same dicts: training log lines
(losses, ``grad_norm/*``, ``lr/*``, ``images_per_s``), evaluation records (``evaluation``, from
``train.eval_every`` and from `gen evaluate`), class coverage (``coverage``), health warnings
(``warning``) and budget stops (``stopped``). `scalars` names their numbers one way for all
trackers, so a curve is called the same in TensorBoard, MLflow and W&B.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

# How a tracked run ended: all its steps; stopped by train.max_time; stopped by a signal
# (Ctrl-C, SIGTERM); stopped by an error. None (gen evaluate) leaves the status as it was.
STATUSES = ("finished", "stopped", "interrupted", "failed")


@dataclass(frozen=True)
class TrackedRun:
    """What a tracker is told of the run when it starts."""

    root: Path  # the run folder: a tracker's local files belong inside it
    name: str  # the folder's name, a default name for the tracked run
    model: str
    spec: dict[str, Any]  # the resolved spec, as spec.json holds it
    params: dict[str, str | int | float | bool]  # `flatten(spec)`
    state: dict[str, Any] | None  # what `start` returned for this run before (a resume)
    purpose: Literal["train", "evaluate"]


class Tracker:
    """Base of a tracker. Every method may be left as it is; each call runs in the tracker's
    own thread, in order, and an exception from one turns the tracker off with a warning.

    ``options`` is the instance of the options class the tracker registered (None without
    one), validated from ``train.trackers``.
    """

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options

    def check(self, run_root: Path) -> None:
        """Before the run folder is written: raise a `gen.errors.GenError` for a setting that
        cannot work (a server that does not answer), so the run does not start untracked."""

    def start(self, run: TrackedRun) -> dict[str, Any] | None:
        """Open (or, with ``run.state``, reopen) the tracked run and record its parameters.
        What it returns is kept in run.json and given back as ``run.state`` next time (an
        MLflow run id, a W&B run id), so a resumed run continues the same tracked run."""
        return None

    def log(self, step: int, record: dict[str, Any]) -> None:
        """One metrics.jsonl record of ``step``."""

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        """A sample grid of ``step``: (H, W, 3) uint8 RGB (grey repeated), laid out as the
        run's PNG grid."""

    def finish(self, status: str | None) -> None:
        """The run ended with ``status`` (one of `STATUSES`), or, with None, `gen evaluate` is
        done adding to it: flush and close."""


def flatten(spec: dict[str, Any], prefix: str = "") -> dict[str, str | int | float | bool]:
    """``{"model": {"optimizer": {"lr": 2e-4}}}`` -> ``{"model.optimizer.lr": 2e-4}``; lists
    and None as JSON text, since trackers take numbers, strings and booleans only."""
    flat: dict[str, str | int | float | bool] = {}
    for key, value in spec.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{path}."))
        elif isinstance(value, bool | int | float | str):
            flat[path] = value
        else:
            flat[path] = json.dumps(value)
    return flat


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """A record's numbers under the tags every tracker uses: a log line's own keys; a
    training evaluation as ``eval/<metric>`` (and ``eval/<metric>_bits_per_dim``), a
    `gen evaluate` score as ``evaluate/<metric>/<how>`` (`measurement`), so scores measured
    differently never share a curve; coverage as ``coverage/<key>``."""
    out = {k: float(v) for k, v in record.items() if k != "step" and _is_number(v)}
    evaluation = record.get("evaluation")
    if isinstance(evaluation, dict) and isinstance(evaluation.get("metric"), str):
        metric = evaluation["metric"]
        in_training = out.pop(f"eval_{metric}", None) is not None
        base = f"eval/{metric}" if in_training else f"evaluate/{metric}/{measurement(evaluation)}"
        for key, tag in (("value", base), ("bits_per_dim", f"{base}_bits_per_dim")):
            if _is_number(evaluation.get(key)):
                out[tag] = float(evaluation[key])
    coverage = record.get("coverage")
    if isinstance(coverage, dict):
        out.update({f"coverage/{k}": float(v) for k, v in coverage.items() if _is_number(v)})
    return out


def measurement(evaluation: dict[str, Any]) -> str:
    """How a score was measured, as a tag part: ``lenet-n10000`` (extractor, generated
    images), then the FID convention and sampler where they are not the defaults, or the
    reference split for a likelihood (``test``)."""
    if "extractor" not in evaluation:
        return str(evaluation.get("split", "test"))
    parts = [f"{evaluation['extractor']}-n{evaluation.get('images', '?')}"]
    convention = evaluation.get("fid_convention")
    if convention not in (None, "torch-fidelity"):
        parts.append(str(convention))
    sampling = evaluation.get("sampling")
    if isinstance(sampling, dict) and sampling.get("sampler"):
        parts.append(f"{sampling['sampler']}{sampling.get('steps', '')}")
    return "-".join(parts)


def warning_text(record: dict[str, Any]) -> str | None:
    """A health warning's line (``rule: message``), or None for another record."""
    warning = record.get("warning")
    if not isinstance(warning, dict):
        return None
    return f"{warning.get('rule', 'health')}: {warning.get('message', '')}"


def stopped_text(record: dict[str, Any]) -> str | None:
    """A budget stop's line, or None for another record."""
    stopped = record.get("stopped")
    if not isinstance(stopped, dict):
        return None
    return (f"stopped at step {record['step']}: {stopped.get('reason', '?')} "
            f"({stopped.get('max_time_s', '?')} s budget)")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
