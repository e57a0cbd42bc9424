"""The report as one HTML document, from the Jinja2 template in ``templates/`` (autoescaped:
every string from a run is escaped there; matplotlib escapes the text inside its SVG). This
module turns `RunReport`s and a `Comparison` into the plain values the template shows: words,
numbers, data: URIs and SVG, each plot drawn once per x-axis (step, images seen, wall time),
which the page switches between with CSS alone.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from gen.report import facts, figures, plots
from gen.report.collect import Grid, RunReport, spec_text
from gen.report.compare import USUAL, Comparison
from gen.report.measurement import (
    Measurement,
    Score,
    arrow,
    best_of,
    differing,
    direction,
    metric_name,
    short_hash,
)
from gen.report.values import duration, fmt

MARKER = '<meta name="generator" content="gen report">'  # tells a report gen may rewrite


def render(reports: Sequence[RunReport], comparison: Comparison | None, written: str,
           refresh: float | None = None) -> str:
    """The whole page. ``refresh`` (seconds, with ``--watch``) makes an open page reload."""
    salts = (f"gen-report-{i}" for i in itertools.count())
    view = {
        "marker": MARKER, "written": written, "axes": plots.AXES,
        "refresh": None if refresh is None else max(1, round(refresh)), "watch": refresh,
        "labels": [r.label for r in reports],
        "comparison": None if comparison is None else _comparison(comparison, reports, salts),
        "runs": [_run(i, r, salts) for i, r in enumerate(reports)],
    }
    return _environment().get_template("report.html.j2").render(view)


def _environment():
    """Jinja2, autoescaping, with the template's filters; made per page (no global state)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("gen.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(short_hash=short_hash, uri=_uri)
    return env


# --- one run ---------------------------------------------------------------------------------


def _run(index: int, r: RunReport, salts: Iterator[str]) -> dict[str, Any]:
    rules: dict[str, list] = {}
    for w in r.warnings:
        rules.setdefault(w.rule, []).append(w)
    return {
        "index": index, "label": r.label, "path": r.path, "status": facts.status(r),
        "facts": facts.rows(r), "rules": rules, "warnings": r.warnings[-200:],
        "more_warnings": len(r.warnings) > 200, "notes": r.notes, "spec": spec_text(r.spec),
        "scores": [_metric(r, m, salts) for m in dict.fromkeys(s.metric for s in r.scores)],
        "grids": r.grids, "grids_total": len(r.grid_files),
        "training": [_figure(p, salts) for p in figures.training_plots(r)],
        "coverage": _coverage_facts(r.coverage_latest),
        "coverage_plots": [_figure(p, salts) for p in figures.coverage_plots(r)],
    }


def _metric(r: RunReport, metric: str, salts: Iterator[str]) -> dict[str, Any]:
    """One metric's scores: a block per measurement, each with its own plot and table (or its
    value, for one score), the best of the block starred."""
    groups: dict[Measurement, list[Score]] = {}
    for s in r.scores:
        if s.metric == metric:
            groups.setdefault(s.measurement, []).append(s)
    shown = differing(list(groups)) or USUAL
    name = f"{metric_name(metric)} {arrow(metric)}".strip()
    blocks = []
    for way, scores in groups.items():
        best = best_of(scores)
        rows = [{"step": s.step, "value": _value(s), "by": _by(s),
                 "bits": None if s.bits_per_dim is None else fmt(s.bits_per_dim),
                 "best": s is best and len(scores) > 1, "kept": s is r.best_score}
                for s in sorted(scores, key=lambda s: s.step)]
        title = f"{name}, {way.text(shown)}".rstrip(", ")
        blocks.append({
            "how": way.text(), "unit": next((s.unit for s in scores if s.unit), ""),
            "rows": rows, "bits": any(row["bits"] for row in rows),
            "figure": None if len(scores) == 1 else _figure(
                figures.score_plot(r, scores, title), salts)})
    better = direction(metric)
    return {"name": metric_name(metric), "arrow": arrow(metric),
            "better": f"{better} is better" if better else "", "blocks": blocks}


def _value(s: Score) -> str:
    return fmt(s.value) + (f" ± {fmt(s.std)}" if s.std is not None else "")


def _by(s: Score) -> str:
    return "training" if s.during_training else "gen evaluate"


def _figure(plot: figures.Plot, salts: Iterator[str]) -> dict[str, Any]:
    """A plot drawn over each x-axis, and its one-point series as values."""
    rest, values = figures.split_single(plot)
    drawn = None
    if rest is not None:
        drawn = {axis: plots.draw(rest, axis, next(salts)) for axis in plots.AXES}
    return {"title": plot.title, "drawn": drawn,
            "single": [f"{v.label}: {fmt(v.value)} at step {v.step:,}" for v in values]}


def _coverage_facts(latest: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(name, value, whether it is a hash) of the latest coverage record."""
    return [(k.replace("_", " "), fmt(v) if isinstance(v, float) else v,
             k.endswith("_hash") and isinstance(v, str)) for k, v in latest.items()]


# --- several runs ----------------------------------------------------------------------------


def _comparison(c: Comparison, reports: Sequence[RunReport],
                salts: Iterator[str]) -> dict[str, Any]:
    notes: dict[str, int] = {}
    columns = []
    for col in c.columns:
        note = notes.setdefault(col.metric, len(notes) + 1) if col.split else None
        columns.append({"name": metric_name(col.metric), "arrow": arrow(col.metric),
                        "shown": col.shown, "full": col.measurement.text(), "note": note})
    rows = []
    for i, r in enumerate(reports):
        cells = [_cell(c.cells.get((i, j)), c.ranking.get(j, []), i)
                 for j in range(len(c.columns))]
        rows.append({"index": i, "label": r.label, "cells": cells, "model": r.model,
                     "data": facts.data_text(r.info), "steps": facts.steps_text(r),
                     "wall": _wall(r), "rate": r.images_per_s})
    footnotes = [(n, metric_name(metric), "; ".join(
        col.measurement.text() for col in c.columns if col.metric == metric))
        for metric, n in notes.items()]
    return {"columns": columns, "rows": rows, "footnotes": footnotes,
            "verdicts": _verdicts(c), "labels": c.labels, "spec_diff": c.spec_diff,
            "grids": c.grids, "curves": [_figure(p, salts) for p in c.curves]}


def _cell(score: Score | None, ranking: list[int], row: int) -> dict[str, Any] | None:
    if score is None:
        return None
    value = fmt(score.value)
    if score.metric in ("nll", "elbo") or score.unit == "nats/image":
        value += " nats"
        if score.bits_per_dim is not None:
            value += f" · {fmt(score.bits_per_dim)} bits/dim"
    extra = f"step {score.step:,}"
    if score.metric in ("nll", "elbo") and score.measurement.estimator:
        extra += f", {score.measurement.estimator}"
    return {"value": value, "extra": extra, "best": len(ranking) > 1 and ranking[0] == row}


def _verdicts(c: Comparison) -> list[str]:
    """Per column, the runs from best to worst: a best only among scores measured alike."""
    lines = []
    for j, col in enumerate(c.columns):
        head = f"{metric_name(col.metric)} {arrow(col.metric)} ({col.shown})".replace(" ()", "")
        runs = [i for i in range(len(c.labels)) if (i, j) in c.cells]
        ranked = c.ranking.get(j, [])
        if len(runs) == 1:
            lines.append(f"{head}: only {c.labels[runs[0]]} was measured this way")
        elif not ranked:
            lines.append(f"{head}: gen does not know which way is better")
        else:
            order = ", then ".join(f"{c.labels[i]} {fmt(c.cells[(i, j)].value)}" for i in ranked)
            lines.append(f"{head}: best {order}")
    return lines


def _wall(r: RunReport) -> str:
    total = r.timeline.wall_time
    return "—" if total is None else duration(total)


def _uri(grid: Grid) -> str:
    return "data:image/png;base64," + base64.b64encode(grid.png).decode("ascii")
