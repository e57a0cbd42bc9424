"""The report's plots: matplotlib figures rendered to SVG text, placed inline in the page.

Why matplotlib, and why SVG: matplotlib is a well-kept, widely installed library, and its SVG
needs nothing at view time. The output is vector (sharp at any zoom, small for line plots),
sits inline in the HTML so the report stays one self-contained file that opens from disk, and
needs no JavaScript runtime and no network, unlike plotting libraries that draw in the browser.

Figures are built with `matplotlib.figure.Figure` directly, never pyplot, so nothing global
changes in the process that makes a report (no backend is chosen, no current figure kept);
matplotlib is imported here, when a report is built, never by ``import gen``. Each figure's SVG
ids are salted with a name of its own (ids of several inline SVGs share one document) and the
SVG carries no date, so the same runs give the same page.

A figure is 3.8 inches wide, about the width of a phone's page, so its text (legends at 9 pt)
is read near its size there; the legend goes under the axes, never over the curves.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable

from gen.report.figures import Plot
from gen.report.records import Points
from gen.report.timeline import Timeline

MOST_POINTS = 2000  # per curve: a long run's log would make an SVG of megabytes
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]
AXES = {"step": "step", "images": "images seen", "time": "wall time"}  # x-axis -> its name
WIDTH = 3.8  # inches: 9 pt text is 9 pt on a 400 px page
LEGEND_PT = 9


def draw(plot: Plot, axis: str, salt: str) -> str | None:
    """``plot`` as SVG text with ``axis`` ("step", "images" or "time") along x; None when a
    curve's run has no record of it (no timed log line for the wall time)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    scale, xlabel = _x_scale(plot, axis)
    if scale is None:
        return None
    lines = {label: [(scale(plot.timelines[label], s), v) for s, v in thin(sorted(points))]
             for label, points in plot.lines.items()}
    entries = (len(lines) if len(lines) > 1 else 0) + len(plot.marks) + len(plot.thresholds) \
        + (plot.star is not None)
    labels = [*lines, *(m[1] for m in plot.marks), *(t[1] for t in plot.thresholds)]
    columns = 2 if entries > 1 and max(map(len, labels), default=0) <= 24 else 1
    title = textwrap.wrap(plot.title, 45) or [""]
    legend_in = 0.22 * math.ceil(entries / columns) + (0.12 if entries else 0)
    top, bottom = 0.12 + 0.2 * len(title), 0.5 + legend_in
    height = top + 1.9 + bottom
    fig = Figure(figsize=(WIDTH, height))
    fig.subplots_adjust(left=0.72 / WIDTH, right=1 - 0.12 / WIDTH, top=1 - top / height,
                        bottom=bottom / height)
    ax = fig.add_subplot()
    for i, (label, points) in enumerate(lines.items()):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, label=_plain(label), color=COLOURS[i % len(COLOURS)], lw=1.4,
                marker="o" if len(points) <= 25 else None, ms=3)
    for step, label in plot.marks:
        ax.axvline(scale(plot.mark_timeline, step), color="0.35", ls="--", lw=1,
                   label=_plain(label))
    for value, label in plot.thresholds:
        ax.axhline(value, color="#c0392b", ls=":", lw=1.3, label=_plain(label))
    if plot.star is not None:
        step, value, label = plot.star
        ax.plot([scale(plot.mark_timeline, step)], [value], ls="none", marker="*", ms=13,
                color="#e6a700", markeredgecolor="0.2", label=_plain(label), zorder=5)
    ax.set_title(_plain("\n".join(title)), fontsize=10, loc="left")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(_plain(plot.ylabel), fontsize=9)
    if axis == "step":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))  # 2.1 x 1e-4, not 0.00021
    ax.tick_params(labelsize=8.5)
    ax.grid(alpha=0.3)
    if entries:
        fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncols=columns,
                   fontsize=LEGEND_PT, frameon=False, borderaxespad=0.3,
                   handlelength=1.8, columnspacing=1.0)
    return _svg(fig, salt)


def _x_scale(plot: Plot, axis: str) -> tuple[Callable[[Timeline | None, int], float] | None,
                                              str]:
    """A function (timeline, step) -> x, and the axis label with its unit; None where some
    curve's run cannot place its steps on ``axis``."""
    if axis == "step":
        return (lambda timeline, step: step), "step"
    place = (lambda t, s: t.images(s)) if axis == "images" else (lambda t, s: t.wall(s))
    if any(t is not None and place(t, 0) is None
           for t in [*plot.timelines.values(), plot.mark_timeline]):
        return None, ""
    top = max((place(plot.timelines[label], s) for label, points in plot.lines.items()
               for s, _ in points), default=0.0)
    if axis == "images":
        divide, unit = ((1e6, " (millions)") if top >= 1e6 else
                        (1e3, " (thousands)") if top >= 1e4 else (1.0, ""))
    else:
        divide, unit = ((3600.0, " (h)") if top >= 7200 else
                        (60.0, " (min)") if top >= 120 else (1.0, " (s)"))
    return (lambda t, s: place(t, s) / divide), f"{AXES[axis]}{unit}"


def thin(points: Points, most: int = MOST_POINTS) -> Points:
    """At most about ``most`` of ``points`` (sorted by step): the lowest and the highest of each
    run of neighbours, so a spike (a loss blowing up) survives the thinning."""
    if len(points) <= most:
        return points
    size = -(-len(points) // (most // 2))
    kept = []
    for start in range(0, len(points), size):
        chunk = points[start:start + size]
        low, high = min(chunk, key=lambda p: p[1]), max(chunk, key=lambda p: p[1])
        kept += sorted({low, high})
    return kept


def _svg(fig, salt: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog, no date), text kept as text."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _plain(text: str) -> str:
    """``text`` shown as it is: ``$`` would start mathtext, and a legend drops labels that
    begin with an underscore."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text
