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
"""

from __future__ import annotations

import io
from collections.abc import Sequence

Points = list[tuple[int, float]]
MOST_POINTS = 2000  # per curve: a long run's log would make an SVG of megabytes
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]


def line_plot(title: str, lines: dict[str, Points], salt: str, *,
              marks: Sequence[tuple[int, str]] = (), star: tuple[int, float] | None = None,
              star_label: str = "best", ylabel: str = "") -> str:
    """One axes of ``lines`` (label -> (step, value) points) over steps, as SVG text.
    ``marks`` are dashed vertical lines at steps (the best checkpoint, resumes); ``star`` marks
    one point (the best score)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(5.4, 2.9))
    # Fixed margins: a layout engine would draw every figure twice to measure it.
    fig.subplots_adjust(left=0.17 if ylabel else 0.135, right=0.98, top=0.9, bottom=0.15)
    ax = fig.add_subplot()
    for i, (label, points) in enumerate(lines.items()):
        steps, values = zip(*thin(sorted(points)), strict=True)
        ax.plot(steps, values, label=_plain(label), color=COLOURS[i % len(COLOURS)], lw=1.4,
                marker="o" if len(points) <= 25 else None, ms=3)
    for step, label in marks:
        ax.axvline(step, color="0.35", ls="--", lw=1, label=_plain(label))
    if star is not None:
        ax.plot([star[0]], [star[1]], ls="none", marker="*", ms=13, color="#e6a700",
                markeredgecolor="0.2", label=_plain(star_label), zorder=5)
    ax.set_title(_plain(title), fontsize=10, loc="left")
    ax.set_xlabel("step", fontsize=9)
    if ylabel:
        ax.set_ylabel(_plain(ylabel), fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    if len(lines) > 1 or marks or star is not None:
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    return _svg(fig, salt)


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
