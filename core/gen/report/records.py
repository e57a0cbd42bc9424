"""What metrics.jsonl says: training curves, scores, class coverage, health warnings, stops.

Each reader takes the run's records (`Run.metrics()`: JSON objects with an integer step) and
checks every value's shape; what it cannot use goes to ``notes`` by name, never an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gen.report.measurement import Score, parse_score
from gen.report.values import is_number, number, text

Points = list[tuple[int, float]]

# Fields of a coverage record that are counts, not curves.
COVERAGE_COUNTS = ("num_classes", "images")
# Keys of a training log line that are not curves of their own.
NOT_CURVES = ("step", "elapsed_s")


def series(records: list[dict[str, Any]], notes: list[str]) -> dict[str, Points]:
    """Every numeric top-level key over steps: losses, images_per_s, grad_norm/*, d_acc_*...
    (``eval_*`` repeat the evaluation records, which are shown with how they were measured)."""
    found: dict[str, Points] = {}
    bad: dict[str, int] = {}
    for record in records:
        for key, value in record.items():
            if key in NOT_CURVES or key.startswith("eval_") or not is_number(value):
                continue
            if math.isfinite(value):
                found.setdefault(key, []).append((record["step"], float(value)))
            else:
                bad.setdefault(key, record["step"])
    notes.extend(f"{key} is not finite at step {step} (left out of its curve)"
                 for key, step in bad.items())
    return found


def scores(records: list[dict[str, Any]], notes: list[str], own_data: str | None) -> list[Score]:
    """The evaluation records as `Score`s; ``own_data`` (the run's data in words) is the
    reference of quality scores recorded before `gen evaluate --space` existed."""
    found, skipped = [], 0
    for record in records:
        if "evaluation" not in record:
            continue
        score = parse_score(record, own_data)
        if score is None:
            skipped += 1
        else:
            found.append(score)
    if skipped:
        notes.append(f"{skipped} evaluation record(s) without a metric name and a finite value "
                     "were left out")
    return found


def coverage(records: list[dict[str, Any]]) -> tuple[dict[str, Points], dict[str, Any]]:
    """Class coverage over steps (its numeric fields), and the latest record as it is."""
    found: dict[str, Points] = {}
    latest: dict[str, Any] = {}
    for record in records:
        cov = record.get("coverage")
        if not isinstance(cov, dict):
            continue
        latest = {"step": record["step"], **cov}
        for key, value in cov.items():
            if key not in COVERAGE_COUNTS and number(value) is not None:
                found.setdefault(key, []).append((record["step"], float(value)))
    return found, latest


def stopped(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The step and budget of the run's last stop on train.max_time, if any."""
    for record in reversed(records):
        stop = record.get("stopped")
        if isinstance(stop, dict) and stop.get("reason") == "max_time":
            return {"step": record["step"], "budget": stop.get("max_time_s")}
    return None


@dataclass
class HealthWarning:
    step: int
    rule: str
    message: str


def warnings(records: list[dict[str, Any]]) -> list[HealthWarning]:
    """The health warnings training logged (`gen.training.health`)."""
    found = []
    for record in records:
        warning = record.get("warning")
        if isinstance(warning, dict):
            found.append(HealthWarning(record["step"], text(warning.get("rule")) or "warning",
                                       text(warning.get("message")) or ""))
        elif isinstance(warning, str):
            found.append(HealthWarning(record["step"], "warning", warning))
    return found
