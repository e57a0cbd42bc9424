"""The report's plots before they are drawn: which curves share an axis, their labels and units,
the marks on them (resumes, best.pt, the health rules' thresholds), and the series of one point
that are shown as a value instead of a plot.

A `Plot` keeps its curves over steps with each curve's `Timeline`, so `plots` can draw it over
steps, images seen or wall time. Scores of one metric measured different ways get a plot each.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from gen.report.collect import RunReport
from gen.report.measurement import Score, best_of, metric_name
from gen.report.records import Points
from gen.report.timeline import Timeline
from gen.report.values import fmt, is_int


@dataclass
class Plot:
    title: str
    ylabel: str
    lines: dict[str, Points]  # label -> (step, value) points
    timelines: dict[str, Timeline]  # label -> the timeline of the run it is from
    marks: list[tuple[int, str]] = field(default_factory=list)  # dashed lines at steps
    star: tuple[int, float, str] | None = None  # (step, value, label): the best score
    thresholds: list[tuple[float, str]] = field(default_factory=list)  # health rules
    mark_timeline: Timeline | None = None  # the run whose steps ``marks`` and ``star`` are


@dataclass
class Value:
    """A series of one point: shown as its value, not as a plot."""

    label: str
    step: int
    value: float


def split_single(plot: Plot) -> tuple[Plot | None, list[Value]]:
    """``plot`` without its one-point series (as `Value`s), or None when none is left."""
    values = [Value(label, pts[0][0], pts[0][1])
              for label, pts in plot.lines.items() if len(pts) == 1]
    lines = {k: v for k, v in plot.lines.items() if len(v) > 1}
    if not lines:
        return None, values
    return Plot(plot.title, plot.ylabel, lines, plot.timelines, plot.marks, plot.star,
                plot.thresholds, plot.mark_timeline), values


# --- one run ---------------------------------------------------------------------------------

TRAINING_UNITS = {"grad_norm": "gradient norm (L2)", "lr": "learning rate",
                  "discriminator accuracy": "share of the batch"}
COVERAGE_UNITS = {"classes_covered": "classes", "kl": "KL (nats)",
                  "feature_spread": "x the real data's", "label_accuracy": "share correct"}


def training_plots(r: RunReport) -> list[Plot]:
    """The training curves: ``grad_norm/*`` (any ``a/b`` keys by prefix) together, ``d_acc_*``
    together, images_per_s alone, and the rest (the losses) together where their sizes are
    alike (PixelCNN's nll in nats and its bits/dim would flatten each other)."""
    prefixed: dict[str, dict[str, Points]] = {}
    rest: dict[str, Points] = {}
    for key, points in r.series.items():
        if "/" in key:
            prefixed.setdefault(key.split("/", 1)[0], {})[key] = points
        elif key.startswith("d_acc_"):
            prefixed.setdefault("discriminator accuracy", {})[key] = points
        elif key != "images_per_s":
            rest[key] = points
    groups = [(_title(g), _loss_unit(g), g) for g in by_scale(rest)]
    groups += [(name.replace("_", " "), TRAINING_UNITS.get(name, name), g)
               for name, g in prefixed.items()]
    if "images_per_s" in r.series:
        groups.append(("images per second", "images/s",
                       {"images_per_s": r.series["images_per_s"]}))
    return [_own(r, Plot(title, unit, g, {}, marks=run_marks(r))) for title, unit, g in groups]


def by_scale(series: dict[str, Points], ratio: float = 10.0) -> list[dict[str, Points]]:
    """Split curves into groups whose typical sizes (median of |value|) are within ``ratio``
    of each other, so each plot's axis suits all of its curves."""
    def size(points: Points) -> float:
        return statistics.median(abs(v) for _, v in points) if points else 0.0

    groups: list[dict[str, Points]] = []
    low = None
    for key in sorted(series, key=lambda k: size(series[k])):
        s = size(series[key])
        if groups and low is not None and s <= max(low, 1e-12) * ratio:
            groups[-1][key] = series[key]
        else:
            groups.append({key: series[key]})
            low = s
    order = list(series)
    groups = [dict(sorted(g.items(), key=lambda kv: order.index(kv[0]))) for g in groups]
    return sorted(groups, key=lambda g: order.index(next(iter(g))))


def score_plot(r: RunReport, scores: list[Score], title: str) -> Plot:
    """The scores of one metric measured one way, the best of them starred and best.pt's
    step marked when best.pt's score was measured this way."""
    first = scores[0]
    name = metric_name(first.metric)
    best = best_of(scores)
    star = None if best is None else (best.step, best.value,
                                      f"best {fmt(best.value)} (step {best.step:,})")
    marks = []
    if r.best_score is not None and r.best_score.key == first.key:
        marks.append((r.best_score.step, f"best.pt (step {r.best_score.step:,})"))
    unit = next((s.unit for s in scores if s.unit), "")
    plot = Plot(title, f"{name} ({unit})" if unit else name,
                {name: sorted((s.step, s.value) for s in scores)}, {}, marks=marks, star=star)
    return _own(r, plot)


def coverage_plots(r: RunReport) -> list[Plot]:
    """Class coverage, one plot per field (of different kinds, so never on one axis), with
    the mode-collapse rule's threshold where it has one."""
    classes = r.coverage_latest.get("num_classes")
    plots = []
    for key, points in r.coverage.items():
        title = key.replace("_", " ")
        if key == "classes_covered" and is_int(classes):
            title += f" (of {classes})"
        plot = Plot(title, COVERAGE_UNITS.get(key, key), {key: points}, {},
                    marks=run_marks(r), thresholds=thresholds(key, classes))
        plots.append(_own(r, plot))
    return plots


def thresholds(key: str, classes: object) -> list[tuple[float, str]]:
    """The health rule's line on a coverage plot (`gen.training.health.HealthRules`)."""
    from gen.training.health import HealthRules

    rules = HealthRules()
    after = f" (from step {rules.collapse_warmup})"
    if key == "classes_covered" and is_int(classes):
        line = rules.min_coverage * classes
        return [(line, f"mode-collapse rule: below {line:g}{after}")]
    if key == "kl":
        return [(rules.max_kl, f"mode-collapse rule: above {rules.max_kl:g} nats{after}")]
    if key == "feature_spread":
        return [(rules.min_spread, f"mode-collapse rule: below {rules.min_spread:g}{after}")]
    return []


def run_marks(r: RunReport) -> list[tuple[int, str]]:
    marks = [(step, f"resumed at {step:,}") for step in r.timeline.resumed_at]
    if r.best_step is not None:
        marks.append((r.best_step, f"best.pt (step {r.best_step:,})"))
    return marks


def _own(r: RunReport, plot: Plot) -> Plot:
    """``plot`` of one run: every curve on the run's timeline."""
    plot.timelines = dict.fromkeys(plot.lines, r.timeline)
    plot.mark_timeline = r.timeline
    return plot


def _title(group: dict[str, Points]) -> str:
    return ", ".join(group) if len(group) <= 3 else "losses"


def _loss_unit(group: dict[str, Points]) -> str:
    if all("loss" in k for k in group):
        return "loss"
    return next(iter(group)) if len(group) == 1 else "value (each key's own units)"
