"""What a report shows of one run, gathered from a `Run`: facts, curves, grids, scores, warnings.

No HTML and no plotting here. Everything is read through the run API (`Run.info`, `spec`,
`step`, `sample_grids`, `metrics()`, `best`) and checked for shape: a run may be still
training, stopped, or damaged in part. A report shows what there is and lists what it could
not read (`RunReport.notes`) instead of failing.
"""

from __future__ import annotations

import io
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gen.errors import GenError
from gen.report import records
from gen.report.measurement import Score, measurement_of, reference_data
from gen.report.records import HealthWarning, Points
from gen.report.timeline import Timeline, timeline
from gen.report.values import integer, is_int, number

if TYPE_CHECKING:
    from gen.handle import Run

MAX_GRIDS = 40  # grids embedded per run: evenly spaced over training, the latest always in


@dataclass
class Grid:
    step: int
    png: bytes
    width: int
    height: int


@dataclass
class RunReport:
    """Everything the page shows of one run."""

    label: str
    path: str
    model: str
    info: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)  # resolved (or as spec.json holds it)
    step: int = 0  # of the latest checkpoint
    logged_step: int = 0  # the last step in metrics.jsonl
    timeline: Timeline = field(default_factory=lambda: Timeline([], None))
    grids: list[Grid] = field(default_factory=list)
    grid_files: dict[int, Path] = field(default_factory=dict)  # every grid, by step
    series: dict[str, Points] = field(default_factory=dict)
    scores: list[Score] = field(default_factory=list)
    best: dict[str, Any] | None = None  # best.pt's record
    best_score: Score | None = None  # ... with how it was measured
    best_logged: bool = False  # its evaluation record is in metrics.jsonl
    coverage: dict[str, Points] = field(default_factory=dict)
    coverage_latest: dict[str, Any] = field(default_factory=dict)
    warnings: list[HealthWarning] = field(default_factory=list)
    stopped: dict[str, Any] | None = None  # the last `stopped` record (train.max_time)
    notes: list[str] = field(default_factory=list)  # what the report could not read

    @property
    def train(self) -> dict[str, Any]:
        train = self.spec.get("train")
        return train if isinstance(train, dict) else {}

    @property
    def planned_steps(self) -> int | None:
        return integer(self.train.get("steps"))

    @property
    def max_time(self) -> float | None:
        return number(self.train.get("max_time"))

    @property
    def best_step(self) -> int | None:
        step = (self.best or {}).get("step")
        return step if is_int(step) else None

    @property
    def reached(self) -> int:
        return max(self.step, self.logged_step)

    @property
    def images_per_s(self) -> float | None:
        """The median over the log lines."""
        rates = [v for _, v in self.series.get("images_per_s", [])]
        return statistics.median(rates) if rates else None

    def latest_scores(self) -> dict[tuple, Score]:
        """The last score (highest step, then latest line) of each metric and measurement."""
        latest: dict[tuple, Score] = {}
        for score in self.scores:
            if score.key not in latest or score.step >= latest[score.key].step:
                latest[score.key] = score
        return latest


def collect(run: Run, label: str | None = None, memo: dict | None = None) -> RunReport:
    """A `RunReport` of ``run`` as it is on disk now. ``memo`` (a dict kept between calls, as
    `--watch` does) spares reading best.pt again while it is unchanged."""
    report = RunReport(label=label or run.path.name, path=str(run.path), model=run.name)
    report.info = _info(run, report.notes)
    report.spec = _spec(run, report.notes)
    try:
        report.step = run.step
    except GenError as exc:
        report.notes.append(f"cannot tell the step of the latest checkpoint: {exc}")
    log = run.metrics()
    report.logged_step = max((r["step"] for r in log), default=0)
    report.series = records.series(log, report.notes)
    report.timeline = timeline(log, integer(report.train.get("batch_size")))
    report.scores = records.scores(log, report.notes, own_data(report.info))
    report.coverage, report.coverage_latest = records.coverage(log)
    report.warnings = records.warnings(log)
    report.stopped = records.stopped(log)
    report.best = _best(run, report.notes, memo)
    report.best_score, report.best_logged = _best_score(report)
    report.grid_files = run.sample_grids
    report.grids = _grids(report.grid_files, _spaced(list(report.grid_files), MAX_GRIDS),
                          report.notes)
    return report


def run_labels(runs: Sequence[Run]) -> list[str]:
    """Each run's folder name; the whole path where two runs share a name."""
    names = [r.path.name or str(r.path) for r in runs]
    return [n if names.count(n) == 1 else str(r.path) for n, r in zip(names, runs, strict=True)]


def own_data(info: dict[str, Any]) -> str | None:
    """The run's data in words (``bundled-mnist 1x16x16``), as a reference is described."""
    data = info.get("data")
    if not isinstance(data, dict):
        return None
    return reference_data({**data, "dataset": data.get("name")}) or None


# --- the run's own files ---------------------------------------------------------------------


def _info(run: Run, notes: list[str]) -> dict[str, Any]:
    try:
        return run.info
    except GenError as exc:
        notes.append(f"cannot read run.json: {exc}")
        return {}


def _spec(run: Run, notes: list[str]) -> dict[str, Any]:
    """The resolved spec. Without the plugin that trained the run the spec cannot be
    validated: spec.json is shown as it is."""
    try:
        return run.spec.model_dump(mode="json")
    except GenError as exc:
        notes.append(f"the spec could not be validated, shown as spec.json holds it: {exc}")
        try:
            spec = run.dir.read_spec()
        except GenError as again:
            notes.append(f"cannot read spec.json: {again}")
            return {}
    return spec if isinstance(spec, dict) else {}


def spec_text(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2) if spec else ""


def _best(run: Run, notes: list[str], memo: dict | None) -> dict[str, Any] | None:
    """best.pt's record; read once per version of the file when ``memo`` is kept."""
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


def _best_score(report: RunReport) -> tuple[Score | None, bool]:
    """best.pt's score with how it was measured: the evaluation record of its step, metric
    and value that agrees with what best.pt states (an older best.pt states only the
    extractor), else what best.pt states alone; and whether the record was found."""
    best = report.best or {}
    metric, value, step = best.get("metric"), number(best.get("value")), report.best_step
    if not isinstance(metric, str) or value is None or step is None:
        return None, False
    stated = measurement_of(best, own_data(report.info))
    found = [s for s in report.scores
             if s.metric == metric and s.step == step and stated.agrees(s.measurement)
             and math.isclose(s.value, value, rel_tol=1e-9, abs_tol=1e-12)]
    found.sort(key=lambda s: s.during_training)
    if found:
        return found[-1], True
    return Score(step=step, metric=metric, value=value, measurement=stated), False


def _grids(files: dict[int, Path], steps: list[int], notes: list[str]) -> list[Grid]:
    """The grids of ``steps`` as PNG bytes with their size; a file that is not a PNG is left
    out and named."""
    shown = []
    for step in steps:
        grid = read_grid(step, files[step], notes)
        if grid is not None:
            shown.append(grid)
    return shown


def read_grid(step: int, path: Path, notes: list[str]) -> Grid | None:
    try:
        data = path.read_bytes()
    except OSError as exc:  # removed meanwhile (a resumed run drops later grids)
        notes.append(f"cannot read {path}: {exc.strerror or exc}")
        return None
    size = _png_size(data)
    if size is None:
        notes.append(f"{path} is not a PNG image; left out")
        return None
    return Grid(step, data, *size)


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
