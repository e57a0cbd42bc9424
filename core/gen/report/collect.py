"""What a report shows, gathered from `Run` objects: facts, curves, grids, scores, warnings.

No HTML and no plotting here (`page` and `plots` do those). Everything is read through the run
API (`Run.info`, `spec`, `step`, `sample_grids`, `metrics()`, `best`) and checked for shape:
metrics.jsonl holds lines from the trainer, from `gen evaluate` and from whatever else appends
to it, and a run may be still training, stopped, or damaged in part. A report shows what there
is and lists what it could not read (`RunReport.notes`) instead of failing.
"""

from __future__ import annotations

import io
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gen.errors import GenError
from gen.sampling_options import describe

if TYPE_CHECKING:
    from gen.handle import Run

Points = list[tuple[int, float]]

MAX_GRIDS = 40  # grids embedded per run: evenly spaced over training, the latest always in
# Metrics of the comparison table, in this order; others a run has follow them.
COMPARED = ("fid", "kid", "precision", "recall", "nll", "elbo")
# Fields of a coverage record that are counts, not curves.
COVERAGE_COUNTS = ("num_classes", "images")
# Keys of a training log line that are not curves of their own.
NOT_CURVES = ("step", "elapsed_s")


@dataclass
class Score:
    """One evaluation record: what was measured, and with what (its provenance)."""

    step: int
    metric: str
    value: float
    unit: str | None = None
    std: float | None = None
    bits_per_dim: float | None = None
    estimator: str | None = None
    extractor: str | None = None
    extractor_hash: str | None = None
    images: int | None = None
    real_images: int | None = None
    reference: str | None = None  # the split ("test", "train") or a folder of images
    space: str | None = None  # where quality metrics were computed (`gen evaluate --space`)
    reference_data: str | None = None  # the reference images' data set and shape
    sampling: str | None = None  # sampler settings or truncation, in words
    weights: str | None = None  # "ema": drawn from the weight average (train.ema)
    during_training: bool = False  # logged by train.eval_every (else `gen evaluate`)

    @property
    def provenance(self) -> tuple[str | None, ...]:
        """Scores with different provenances were measured differently: never one column (nor
        one curve). Samples drawn with other sampler settings (sampler, steps, eta, guidance)
        or another truncation are other images, so the settings are part of it, and so are
        the weights (the live ones or their average)."""
        return (self.extractor, self.extractor_hash, self.reference, self.space,
                self.reference_data, self.sampling, self.weights)

    def provenance_text(self) -> str:
        return provenance_text(self.provenance)


def _sampling_text(sampling: str | None) -> str:
    """``sampler ddim, 50 steps``; a one-pass model's truncation reads as it is."""
    if not sampling:
        return ""
    return sampling if sampling.startswith("truncation ") else f"sampler {sampling}"


def provenance_text(provenance: tuple[str | None, ...]) -> str:
    extractor, digest, reference, space, data, sampling, weights = provenance
    parts = [extractor or "", short_hash(digest) if digest else "",
             f"reference {reference}" if reference else "",
             f"space {space}" if space else "", data or "",
             _sampling_text(sampling), f"{weights} weights" if weights else ""]
    return " · ".join(p for p in parts if p) or "no provenance recorded"


def short_hash(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:8]}…" if hexdigest else f"{digest[:12]}…"


@dataclass
class Grid:
    step: int
    png: bytes
    width: int
    height: int


@dataclass
class HealthWarning:
    step: int
    rule: str
    message: str


@dataclass
class RunReport:
    """Everything the page shows of one run."""

    label: str
    path: str
    model: str
    info: dict[str, Any] = field(default_factory=dict)
    spec_text: str = ""
    step: int = 0  # of the latest checkpoint
    logged_step: int = 0  # the last step in metrics.jsonl
    planned_steps: int | None = None
    wall_time_s: float | None = None
    images_per_s: float | None = None  # median over the log lines
    resumed_at: list[int] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    grids_total: int = 0
    series: dict[str, Points] = field(default_factory=dict)
    scores: list[Score] = field(default_factory=list)
    best: dict[str, Any] | None = None
    coverage: dict[str, Points] = field(default_factory=dict)
    coverage_latest: dict[str, Any] = field(default_factory=dict)
    warnings: list[HealthWarning] = field(default_factory=list)
    stopped: dict[str, Any] | None = None  # the last `stopped` record (train.max_time)
    notes: list[str] = field(default_factory=list)  # what the report could not read

    @property
    def best_step(self) -> int | None:
        step = (self.best or {}).get("step")
        return step if _is_int(step) else None

    @property
    def reached(self) -> int:
        return max(self.step, self.logged_step)

    def status(self) -> str:
        if self.planned_steps is not None and self.step >= self.planned_steps:
            return f"finished: {self.step} of {self.planned_steps} steps"
        planned = f" of {self.planned_steps}" if self.planned_steps is not None else ""
        stop = self.stopped or {}
        if stop.get("step") == self.step == self.logged_step and _is_number(stop.get("budget")):
            return (f"stopped on its time budget (train.max_time = {stop['budget']:g} s) at "
                    f"step {self.step}{planned}; continue it with gen train --resume")
        if self.step == 0 and self.logged_step == 0:
            return f"nothing logged yet (0{planned} steps): training, or stopped at its start"
        checkpoint = (f"checkpoint at step {self.step}" if self.step
                      else "no checkpoint yet")
        return (f"not finished: logged up to step {self.logged_step}{planned}, {checkpoint}; "
                "still training, or stopped (continue it with gen train --resume)")

    def latest_scores(self) -> dict[tuple[str, tuple[str | None, ...]], Score]:
        """The last score (highest step, then latest line) of each metric and provenance."""
        latest: dict[tuple[str, tuple[str | None, ...]], Score] = {}
        for score in self.scores:
            key = (score.metric, score.provenance)
            if key not in latest or score.step >= latest[key].step:
                latest[key] = score
        return latest


def collect(run: Run, label: str | None = None, memo: dict | None = None) -> RunReport:
    """A `RunReport` of ``run`` as it is on disk now. ``memo`` (a dict kept between calls, as
    `--watch` does) spares reading best.pt again while it is unchanged."""
    report = RunReport(label=label or run.path.name, path=str(run.path), model=run.name)
    report.info = _info(run, report.notes)
    report.spec_text, report.planned_steps = _spec(run, report.notes)
    try:
        report.step = run.step
    except GenError as exc:
        report.notes.append(f"cannot tell the step of the latest checkpoint: {exc}")
    records = run.metrics()
    report.logged_step = max((r["step"] for r in records), default=0)
    report.series = _series(records, report.notes)
    report.wall_time_s, report.resumed_at = _wall_time(records)
    rates = [v for _, v in report.series.get("images_per_s", [])]
    report.images_per_s = statistics.median(rates) if rates else None
    report.scores = _scores(records, report.notes)
    _in_own_space(report.scores, report.info)
    report.coverage, report.coverage_latest = _coverage(records)
    report.warnings = _warnings(records)
    report.stopped = _stopped(records)
    report.best = _best(run, report.notes, memo)
    report.grids, report.grids_total = _grids(run, report.notes)
    return report


def run_labels(runs: Sequence[Run]) -> list[str]:
    """Each run's folder name; the whole path where two runs share a name."""
    names = [r.path.name or str(r.path) for r in runs]
    return [n if names.count(n) == 1 else str(r.path) for n, r in zip(names, runs, strict=True)]


# --- the run's own files ---------------------------------------------------------------------


def _info(run: Run, notes: list[str]) -> dict[str, Any]:
    try:
        return run.info
    except GenError as exc:
        notes.append(f"cannot read run.json: {exc}")
        return {}


def _spec(run: Run, notes: list[str]) -> tuple[str, int | None]:
    """The resolved spec as JSON text, and train.steps. Without the plugin that trained the
    run the spec cannot be validated: spec.json is shown as it is."""
    try:
        spec = run.spec.model_dump(mode="json")
    except GenError as exc:
        notes.append(f"the spec could not be validated, shown as spec.json holds it: {exc}")
        try:
            spec = run.dir.read_spec()
        except GenError as again:
            notes.append(f"cannot read spec.json: {again}")
            return "", None
    train = spec.get("train")
    steps = train.get("steps") if isinstance(train, dict) else None
    return json.dumps(spec, indent=2), steps if _is_int(steps) else None


def _best(run: Run, notes: list[str], memo: dict | None) -> dict[str, Any] | None:
    """best.pt's score; read once per version of the file when ``memo`` is kept."""
    path = run.dir.checkpoints / "best.pt"
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if memo is not None and key in memo:
        return memo[key]
    try:
        best = run.best
    except GenError as exc:
        notes.append(f"best.pt is not readable: {exc}")
        return None
    if memo is not None:
        memo[key] = best
    return best


def _grids(run: Run, notes: list[str]) -> tuple[list[Grid], int]:
    """The training grids (at most `MAX_GRIDS`, evenly spaced, the latest always in) as PNG
    bytes with their size; a file that is not a PNG is left out and named."""
    grids = run.sample_grids
    steps = _spaced(list(grids), MAX_GRIDS)
    shown = []
    for step in steps:
        path = grids[step]
        try:
            data = path.read_bytes()
        except OSError as exc:  # removed meanwhile (a resumed run drops later grids)
            notes.append(f"cannot read {path}: {exc.strerror or exc}")
            continue
        size = _png_size(data)
        if size is None:
            notes.append(f"{path} is not a PNG image; left out")
            continue
        shown.append(Grid(step, data, *size))
    return shown, len(grids)


def _spaced(items: list[int], most: int) -> list[int]:
    if len(items) <= most:
        return items
    picks = {round(i * (len(items) - 1) / (most - 1)) for i in range(most)}
    return [items[i] for i in sorted(picks)]


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG (Pillow reads only its header), or None if ``data`` is not
    one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size if image.format == "PNG" and all(image.size) else None
    except (UnidentifiedImageError, OSError, ValueError):
        return None


# --- metrics.jsonl ---------------------------------------------------------------------------


def _series(records: list[dict[str, Any]], notes: list[str]) -> dict[str, Points]:
    """Every numeric top-level key over steps: losses, images_per_s, grad_norm/*, d_acc_*...
    (``eval_*`` repeat the evaluation records, which are shown with their provenance)."""
    series: dict[str, Points] = {}
    bad: dict[str, int] = {}
    for record in records:
        for key, value in record.items():
            if key in NOT_CURVES or key.startswith("eval_") or not _is_number(value):
                continue
            if math.isfinite(value):
                series.setdefault(key, []).append((record["step"], float(value)))
            else:
                bad.setdefault(key, record["step"])
    notes.extend(f"{key} is not finite at step {step} (left out of its curve)"
                 for key, step in bad.items())
    return series


def _wall_time(records: list[dict[str, Any]]) -> tuple[float | None, list[int]]:
    """Seconds spent training, and the steps it was resumed at: ``elapsed_s`` restarts at 0
    when a run is resumed, so the time is the sum of each stretch's last value."""
    total, last, resumed = 0.0, None, []
    for record in records:
        elapsed = record.get("elapsed_s")
        if not _is_number(elapsed) or not math.isfinite(elapsed):
            continue
        if last is not None and elapsed < last:
            total += last
            resumed.append(record["step"])
        last = float(elapsed)
    return (None, []) if last is None else (total + last, resumed)


def _scores(records: list[dict[str, Any]], notes: list[str]) -> list[Score]:
    scores, skipped = [], 0
    for record in records:
        evaluation = record.get("evaluation")
        if evaluation is None:
            continue
        score = _score(record, evaluation)
        if score is None:
            skipped += 1
        else:
            scores.append(score)
    if skipped:
        notes.append(f"{skipped} evaluation record(s) without a metric name and a finite value "
                     "were left out")
    return scores


def _score(record: dict[str, Any], ev: Any) -> Score | None:
    if not isinstance(ev, dict):
        return None
    metric, value = ev.get("metric"), ev.get("value")
    if not isinstance(metric, str) or not _is_number(value) or not math.isfinite(value):
        return None
    step = ev.get("step") if _is_int(ev.get("step")) else record["step"]
    data = ev.get("reference_data")
    return Score(
        step=step, metric=metric, value=float(value),
        unit=_text(ev.get("unit")), std=_number(ev.get("std")),
        bits_per_dim=_number(ev.get("bits_per_dim")), estimator=_text(ev.get("estimator")),
        extractor=_text(ev.get("extractor")), extractor_hash=_text(ev.get("extractor_hash")),
        images=_int(ev.get("images")), real_images=_int(ev.get("real_images")),
        reference=_text(ev.get("split")), space=_text(ev.get("space")),
        reference_data=_reference_data(data) if data is not None else None,
        sampling=_sampling(ev.get("sampling")),
        weights=_text(ev.get("weights")),
        during_training=f"eval_{metric}" in record,
    )


def _sampling(settings: Any) -> str | None:
    """The sampler settings of a record in words (``ddim, 50 steps, eta 0``): the same text
    for the same settings, however the record orders or types them."""
    if settings is None:
        return None
    if isinstance(settings, dict) and settings:
        return describe(settings)
    return _text(settings) or None


def _in_own_space(scores: list[Score], info: dict[str, Any]) -> None:
    """Quality scores recorded before `gen evaluate --space` existed were all computed in the
    run's own space, against its own test or train images: say so, so that they share a column
    with later scores measured the same way (and only with those)."""
    data = info.get("data")
    if not isinstance(data, dict):
        return
    own = _reference_data({**data, "dataset": data.get("name")})
    for s in scores:
        if s.extractor is not None and s.space is None and s.reference in ("test", "train"):
            s.space, s.reference_data = "run", own or None


def _reference_data(data: Any) -> str:
    if isinstance(data, dict) and {"dataset", "channels", "image_size"} <= data.keys():
        size = data["image_size"]
        return f"{data['dataset']} {data['channels']}x{size}x{size}"
    return _text(data) or ""


def _coverage(records: list[dict[str, Any]]) -> tuple[dict[str, Points], dict[str, Any]]:
    """Class coverage over steps (its numeric fields), and the latest record as it is."""
    series: dict[str, Points] = {}
    latest: dict[str, Any] = {}
    for record in records:
        coverage = record.get("coverage")
        if not isinstance(coverage, dict):
            continue
        latest = {"step": record["step"], **coverage}
        for key, value in coverage.items():
            if key not in COVERAGE_COUNTS and _is_number(value) and math.isfinite(value):
                series.setdefault(key, []).append((record["step"], float(value)))
    return series, latest


def _stopped(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The step and budget of the run's last stop on train.max_time, if any."""
    for record in reversed(records):
        stop = record.get("stopped")
        if isinstance(stop, dict) and stop.get("reason") == "max_time":
            return {"step": record["step"], "budget": stop.get("max_time_s")}
    return None


def _warnings(records: list[dict[str, Any]]) -> list[HealthWarning]:
    found = []
    for record in records:
        warning = record.get("warning")
        if isinstance(warning, dict):
            found.append(HealthWarning(record["step"], _text(warning.get("rule")) or "warning",
                                       _text(warning.get("message")) or ""))
        elif isinstance(warning, str):
            found.append(HealthWarning(record["step"], "warning", warning))
    return found


# --- what the curves and the comparison are made of ------------------------------------------


def training_groups(series: dict[str, Points]) -> list[tuple[str, dict[str, Points]]]:
    """The training curves as plots: ``grad_norm/*`` (any ``a/b`` keys by prefix) together,
    ``d_acc_*`` together, images_per_s alone, and the rest (the losses) together where their
    sizes are alike (PixelCNN's nll in nats and its bits/dim would flatten each other)."""
    prefixed: dict[str, dict[str, Points]] = {}
    rest: dict[str, Points] = {}
    for key, points in series.items():
        if "/" in key:
            prefixed.setdefault(key.split("/", 1)[0], {})[key] = points
        elif key.startswith("d_acc_"):
            prefixed.setdefault("discriminator accuracy", {})[key] = points
        elif key != "images_per_s":
            rest[key] = points
    groups = [(_title(g), g) for g in by_scale(rest)]
    groups += [(name.replace("_", " "), g) for name, g in prefixed.items()]
    if "images_per_s" in series:
        groups.append(("images per second", {"images_per_s": series["images_per_s"]}))
    return groups


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


def coverage_groups(report: RunReport) -> list[tuple[str, dict[str, Points]]]:
    """Class coverage as plots, one per field (classes covered, KL, label accuracy, spread:
    of different kinds, so never on one axis)."""
    classes = report.coverage_latest.get("num_classes")
    groups = []
    for key, points in report.coverage.items():
        title = key.replace("_", " ")
        if key == "classes_covered" and _is_int(classes):
            title += f" (of {classes})"
        groups.append((title, {key: points}))
    return groups


def _title(group: dict[str, Points]) -> str:
    return ", ".join(group) if len(group) <= 3 else "losses"


@dataclass
class Column:
    """A column of the comparison table: one metric measured one way."""

    metric: str
    provenance: tuple[str | None, ...]
    split: bool  # the metric has other columns: scores measured another way


@dataclass
class Comparison:
    labels: list[str]
    columns: list[Column]
    cells: dict[tuple[int, int], Score]  # (run index, column index) -> its latest score
    curves: list[tuple[str, dict[str, Points]]]  # title -> run label -> points


def compare(reports: Sequence[RunReport]) -> Comparison:
    """The comparison of several runs: a column per metric and provenance (a metric whose
    scores were computed with different extractors or reference sets gets several columns,
    marked as such), and overlaid curves of what at least two runs share."""
    latest = [r.latest_scores() for r in reports]
    keys: list[tuple[str, tuple[str | None, ...]]] = []
    for scores in latest:
        keys += [k for k in scores if k not in keys]
    metrics = [m for m in COMPARED if any(k[0] == m for k in keys)]
    metrics += sorted({k[0] for k in keys} - set(metrics))
    columns = []
    for metric in metrics:
        ways = [k[1] for k in keys if k[0] == metric]
        columns += [Column(metric, way, len(ways) > 1) for way in ways]
    cells = {(i, j): scores[(c.metric, c.provenance)]
             for i, scores in enumerate(latest) for j, c in enumerate(columns)
             if (c.metric, c.provenance) in scores}
    return Comparison([r.label for r in reports], columns, cells, _shared_curves(reports))


def _shared_curves(reports: Sequence[RunReport]) -> list[tuple[str, dict[str, Points]]]:
    curves: list[tuple[str, dict[str, Points]]] = []
    keys: list[str] = []
    for r in reports:
        keys += [k for k in r.series if k not in keys]
    for key in keys:
        lines = {r.label: r.series[key] for r in reports if r.series.get(key)}
        if len(lines) > 1:
            curves.append((key.replace("_", " ") if key == "images_per_s" else key, lines))
    scored: dict[tuple[str, tuple[str | None, ...]], dict[str, Points]] = {}
    for r in reports:
        for s in r.scores:
            line = scored.setdefault((s.metric, s.provenance), {}).setdefault(r.label, [])
            line.append((s.step, s.value))
    for (metric, provenance), lines in scored.items():
        if len(lines) > 1:
            curves.append((f"{metric} ({provenance_text(provenance)})",
                           {k: sorted(v) for k, v in lines.items()}))
    for field_name in ("classes_covered", "kl"):
        lines = {r.label: r.coverage[field_name] for r in reports if r.coverage.get(field_name)}
        if len(lines) > 1:
            curves.append((f"coverage: {field_name}", lines))
    return curves


# --- shapes of values ------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    """An int or float that converts to a float (JSON allows integers of any size)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(value) else None


def _int(value: Any) -> int | None:
    return value if _is_int(value) else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)
