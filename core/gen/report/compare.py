"""Two or more runs side by side: a column per metric and measurement with the best run of each,
the spec fields that differ, the grids at the latest, a matched step and a matched wall time,
and the curves the runs share.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gen.report.collect import Grid, RunReport, read_grid
from gen.report.figures import COVERAGE_UNITS, Plot, thresholds
from gen.report.measurement import (
    COMPARED,
    Measurement,
    Score,
    arrow,
    differing,
    direction,
    metric_name,
)
from gen.report.values import duration

# Shown in a column's header when a metric has one column: what a reader asks first.
USUAL = ("extractor", "images", "real_images", "estimator")
# Spec fields not compared: where the run was written is its folder, named above.
NOT_COMPARED = ("train.out",)


@dataclass
class Column:
    """A column of the comparison table: one metric measured one way."""

    metric: str
    measurement: Measurement
    split: bool  # the metric has other columns: scores measured another way
    shown: str  # what tells this column from the metric's others, in words


@dataclass
class Comparison:
    labels: list[str]
    columns: list[Column]
    cells: dict[tuple[int, int], Score]  # (run index, column index) -> its latest score
    ranking: dict[int, list[int]]  # column index -> run indices, best first
    spec_diff: list[tuple[str, list[str]]]  # dotted field -> each run's value
    grids: list[tuple[str, list[Grid | None]]]  # row title -> each run's grid
    curves: list[Plot]


def compare(reports: Sequence[RunReport]) -> Comparison:
    """The comparison of several runs: a column per metric and measurement (a metric measured
    several ways gets several columns, marked as such), and what at least two runs share."""
    latest = [r.latest_scores() for r in reports]
    keys: list[tuple[str, Measurement]] = []
    for scores in latest:
        keys += [k for k in scores if k not in keys]
    metrics = [m for m in COMPARED if any(k[0] == m for k in keys)]
    metrics += sorted({k[0] for k in keys} - set(metrics))
    columns = []
    for metric in metrics:
        ways = [k[1] for k in keys if k[0] == metric]
        shown = differing(ways) if len(ways) > 1 else USUAL
        columns += [Column(metric, way, len(ways) > 1, way.text(shown)) for way in ways]
    cells = {(i, j): scores[(c.metric, c.measurement)]
             for i, scores in enumerate(latest) for j, c in enumerate(columns)
             if (c.metric, c.measurement) in scores}
    ranking = {j: _rank(c.metric, {i: s for (i, k), s in cells.items() if k == j})
               for j, c in enumerate(columns)}
    return Comparison([r.label for r in reports], columns, cells, ranking,
                      spec_diff(reports), matched_grids(reports), shared_curves(reports))


def _rank(metric: str, scores: dict[int, Score]) -> list[int]:
    """Runs of one column best first (scores of one measurement); none for a metric whose
    better direction is unknown."""
    if direction(metric) is None:
        return []
    sign = 1.0 if direction(metric) == "lower" else -1.0
    return sorted(scores, key=lambda i: sign * scores[i].value)


# --- specs -----------------------------------------------------------------------------------


def spec_diff(reports: Sequence[RunReport]) -> list[tuple[str, list[str]]]:
    """The resolved spec fields (dotted) whose values are not the same in every run; a field a
    run's spec lacks shows as a dash."""
    flat = [flatten(r.spec) for r in reports]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    rows = []
    for key in keys:
        values = [f.get(key, "—") for f in flat]
        if key not in NOT_COMPARED and len(set(values)) > 1:
            rows.append((key, values))
    return rows


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"model": {"optimizer": {"lr": 2e-4}}}`` -> ``{"model.optimizer.lr": "0.0002"}``;
    lists and empty dicts as JSON text."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value if isinstance(value, str) else json.dumps(value)
    return flat


# --- grids -----------------------------------------------------------------------------------


def matched_grids(reports: Sequence[RunReport]) -> list[tuple[str, list[Grid | None]]]:
    """Each run's latest grid; then, where they differ from those, each run's grid nearest
    the latest step every run has a grid of, and nearest the latest wall time every run has
    reached (runs of different speeds compared at equal cost)."""
    rows = [("latest", [r.grids[-1] if r.grids else None for r in reports])]
    with_grids = [r for r in reports if r.grid_files]
    if len(with_grids) < 2:
        return rows
    step = min(max(r.grid_files) for r in with_grids)
    rows.append((f"nearest step {step:,}", [_nearest(r, lambda s: s, step) for r in reports]))
    walls = [r.timeline.wall(max(r.grid_files)) for r in with_grids]
    if all(w is not None for w in walls):
        limit = min(walls)
        rows.append((f"nearest wall time {duration(limit)}",
                     [_nearest(r, r.timeline.wall, limit) for r in reports]))
    shown = [[g.step if g else None for g in rows[0][1]]]
    kept = rows[:1]
    for title, grids in rows[1:]:
        steps = [g.step if g else None for g in grids]
        if steps not in shown:
            shown.append(steps)
            kept.append((title, grids))
    return kept


def _nearest(r: RunReport, position: Callable[[int], float | None],
             target: float) -> Grid | None:
    """The run's grid whose ``position(step)`` is nearest ``target`` (the earlier on a tie)."""
    if not r.grid_files:
        return None
    step = min(r.grid_files, key=lambda s: (abs(position(s) - target), s))
    embedded = {g.step: g for g in r.grids}
    return embedded.get(step) or read_grid(step, r.grid_files[step], r.notes)


# --- curves ----------------------------------------------------------------------------------


def shared_curves(reports: Sequence[RunReport]) -> list[Plot]:
    """Overlaid curves of what at least two runs have: each score of one metric measured one
    way (first: they decide), class coverage, each logged key."""
    timelines = {r.label: r.timeline for r in reports}
    plots: list[Plot] = []

    def add(title: str, ylabel: str, lines: dict, rules: list | None = None) -> None:
        if len(lines) > 1:
            plots.append(Plot(title, ylabel, lines, {k: timelines[k] for k in lines},
                              thresholds=rules or []))

    scored: dict[tuple[str, Measurement], dict[str, list]] = {}
    for r in reports:
        for s in r.scores:
            scored.setdefault(s.key, {}).setdefault(r.label, []).append((s.step, s.value))
    for (metric, way), lines in scored.items():
        ways = [k[1] for k in scored if k[0] == metric]
        name = f"{metric_name(metric)} {arrow(metric)}".strip()
        add(f"{name}, {way.text(differing(ways) or USUAL)}", metric_name(metric),
            {k: sorted(v) for k, v in lines.items()})
    for key in ("classes_covered", "kl"):
        counts = {r.coverage_latest.get("num_classes") for r in reports if r.coverage.get(key)}
        add(f"coverage: {key.replace('_', ' ')}", COVERAGE_UNITS[key],
            {r.label: r.coverage[key] for r in reports if r.coverage.get(key)},
            thresholds(key, counts.pop()) if len(counts) == 1 else None)
    for key in dict.fromkeys(k for r in reports for k in r.series):
        add(key.replace("_", " ") if key == "images_per_s" else key, key,
            {r.label: r.series[key] for r in reports if r.series.get(key)})
    return plots
