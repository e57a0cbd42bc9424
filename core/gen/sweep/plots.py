"""The sweep report's plots, as inline SVG: the optimisation history, each trial's scores
during training (where the pruner stopped them), and the parameters' importances.

Drawn with matplotlib from the trials rather than with ``optuna.visualization.matplotlib``:
that module goes through pyplot (a global backend and current figure in the process that makes
the report) and marks itself experimental; a `Figure` of our own keeps the page reproducible
(no date, salted SVG ids) like the run report's. The importances are Optuna's own numbers
(``optuna.importance.get_param_importances``).
"""

from __future__ import annotations

import io
import math
from typing import Any

from gen.sweep.outcome import last_score, state

COLOURS = {"complete": "#1f77b4", "pruned": "#d62728", "failed": "#7f7f7f"}


def history(trials: list[Any], metric: str, direction: str) -> str | None:
    """Each trial's value by trial number (pruned ones at their last score), and the best so
    far as a step line."""
    points = {s: [] for s in COLOURS}
    for t in sorted(trials, key=lambda t: t.number):
        value = t.value if state(t) == "complete" else last_score(t)
        if state(t) in points and value is not None and math.isfinite(value):
            points[state(t)].append((t.number, value))
    if not points["complete"] and not points["pruned"]:
        return None
    fig, ax = _axes(f"optimisation history ({metric}, "
                    f"{'higher' if direction == 'maximize' else 'lower'} is better)")
    for name, found in points.items():
        if found:
            xs, ys = zip(*found, strict=True)
            ax.plot(xs, ys, ls="none", marker="o" if name == "complete" else "x", ms=5,
                    color=COLOURS[name], label=name)
    best, line = None, []
    pick = max if direction == "maximize" else min
    for number, value in points["complete"]:
        best = value if best is None else pick(best, value)
        line.append((number, best))
    if line:
        xs, ys = zip(*line, strict=True)
        ax.step(xs, ys, where="post", color="#e6a700", lw=1.4, label="best so far")
    ax.set_xlabel("trial", fontsize=9)
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    return _svg(fig, "sweep-history")


def intermediate(trials: list[Any], metric: str) -> str | None:
    """The ``train.eval_every`` scores of every trial over steps: a pruned trial's line ends
    where the pruner stopped it."""
    curves = [t for t in trials if t.intermediate_values]
    if not curves:
        return None
    fig, ax = _axes(f"{metric} during training (dashed: pruned)")
    for t in sorted(curves, key=lambda t: t.number):
        steps = sorted(t.intermediate_values)
        values = [t.intermediate_values[s] for s in steps]
        ax.plot(steps, values, lw=1.1, marker="o" if len(steps) <= 25 else None, ms=2.5,
                ls="--" if state(t) == "pruned" else "-",
                color=COLOURS.get(state(t), COLOURS["failed"]), alpha=0.8)
    ax.set_xlabel("step", fontsize=9)
    return _svg(fig, "sweep-intermediate")


def importances(values: dict[str, float]) -> str | None:
    """Optuna's parameter importances (they sum to 1), largest on top."""
    if not values:
        return None
    names = sorted(values, key=values.get)
    fig, ax = _axes("parameter importance", height=0.9 + 0.35 * len(names))
    ax.barh(range(len(names)), [values[n] for n in names], color=COLOURS["complete"])
    ax.set_yticks(range(len(names)), [_plain(n) for n in names], fontsize=8)
    ax.set_xlim(0, 1)
    fig.subplots_adjust(left=0.4)
    return _svg(fig, "sweep-importance")


def _axes(title: str, height: float = 2.9):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.4, max(height, 1.6)))
    fig.subplots_adjust(left=0.15, right=0.97, top=0.88, bottom=0.17)
    ax = fig.add_subplot()
    ax.set_title(_plain(title), fontsize=10, loc="left")
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    return fig, ax


def _svg(fig: Any, salt: str) -> str:
    """The figure as an ``<svg>`` element: no XML prolog, no date, text kept as text."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _plain(text: str) -> str:
    """``text`` as it is: ``$`` would start mathtext."""
    return text.replace("$", r"\$")
