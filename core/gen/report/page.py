"""The report as one HTML document: CSS, the plots' SVG and a few lines of script inline, the
grids as data: URIs, so the file opens from disk with no network.

Every string that comes from a run (names, paths, metric keys, messages, the spec) is escaped
with `html.escape`; matplotlib escapes the text inside its SVG.
"""

from __future__ import annotations

import base64
import html
import itertools
from collections.abc import Iterator, Sequence

from gen.report import plots
from gen.report.collect import (
    Comparison,
    Grid,
    RunReport,
    Score,
    coverage_groups,
    provenance_text,
    short_hash,
    training_groups,
)

MARKER = '<meta name="generator" content="gen report">'  # tells a report gen may rewrite
NAMES = {"fid": "FID", "kid": "KID", "nll": "NLL", "elbo": "negative ELBO"}


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render(reports: Sequence[RunReport], comparison: Comparison | None, written: str,
           refresh: float | None = None) -> str:
    """The whole page. ``refresh`` (seconds, with ``--watch``) makes an open page reload."""
    salts = (f"gen-report-{i}" for i in itertools.count())
    names = ", ".join(r.label for r in reports)
    reload = (f'<meta http-equiv="refresh" content="{max(1, round(refresh))}">'
              if refresh else "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head>',
        MARKER,
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        reload,
        f"<title>gen report: {e(names)}</title>",
        '<link rel="icon" href="data:,">',
        f"<style>{CSS}</style>",
        "</head><body>",
        _header(reports, written, refresh),
    ]
    if comparison is not None:
        parts.append(_comparison(comparison, reports, salts))
    parts += [_run(i, r, salts) for i, r in enumerate(reports)]
    parts += [f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(p for p in parts if p) + "\n"


def _header(reports: Sequence[RunReport], written: str, refresh: float | None) -> str:
    links = " ".join(f'<a href="#run-{i}">{e(r.label)}</a>' for i, r in enumerate(reports))
    watching = f" · rewritten every {refresh:g} s while watched" if refresh else ""
    count = f"{len(reports)} run{'s' if len(reports) != 1 else ''}"
    return (f'<header><h1>gen report</h1><p class="meta">{count} · written {e(written)}'
            f"{watching}</p><nav>{links}</nav></header>")


# --- one run ---------------------------------------------------------------------------------


def _run(index: int, r: RunReport, salts: Iterator[str]) -> str:
    return "\n".join([
        f'<section class="run" id="run-{index}">',
        f"<h2>{e(r.label)} <small>{e(r.path)}</small></h2>",
        f'<p class="status">{e(r.status())}</p>',
        '<div class="top">', _facts(r), _health(r), "</div>",
        _spec(r),
        "<h3>Samples</h3>", _grids(index, r),
        "<h3>Training curves</h3>", _training(r, salts),
        "<h3>Scores</h3>", _scores(r, salts),
        _coverage(r, salts),
        "</section>",
    ])


def _facts(r: RunReport) -> str:
    info = r.info
    data = info.get("data") if isinstance(info.get("data"), dict) else {}
    rows = [
        ("model", f"{r.model}" + (f" ({info['kind']})" if info.get("kind") else "")),
        ("plugin", " ".join(str(info[k]) for k in ("plugin", "plugin_version") if info.get(k))),
        ("data", _data(data)),
        ("device", _device(info)),
        ("steps", _steps(r)),
        ("wall time", _wall_time(r)),
        ("images/s", "" if r.images_per_s is None else f"{r.images_per_s:,.1f} (median)"),
        ("best checkpoint", _best(r)),
        ("versions", ", ".join(f"{name} {info[key]}" for name, key in
                               (("gen", "gen_version"), ("torch", "torch_version"))
                               if info.get(key))),
    ]
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v) if v else '—'}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _data(data: dict) -> str:
    if not data:
        return ""
    parts = [str(data.get("name", "?"))]
    if data.get("channels") is not None and data.get("image_size") is not None:
        size = data["image_size"]
        parts.append(f"{data['channels']}x{size}x{size}")
    if data.get("num_images") is not None:
        parts.append(f"{data['num_images']} images")
    if data.get("num_classes"):
        parts.append(f"{data['num_classes']} classes")
    return ", ".join(parts)


def _device(info: dict) -> str:
    if not info.get("device"):
        return ""
    processes = info.get("processes")
    many = isinstance(processes, int) and processes > 1
    count = f" x {processes} processes" if many else ", 1 process"
    return f"{info['device']}{count}"


def _steps(r: RunReport) -> str:
    planned = f" of {r.planned_steps}" if r.planned_steps is not None else ""
    checkpoint = f"checkpoint at {r.step}" if r.step else "no checkpoint yet"
    return f"{r.reached}{planned} ({checkpoint})"


def _wall_time(r: RunReport) -> str:
    if r.wall_time_s is None:
        return ""
    resumed = (f", resumed at step {', '.join(map(str, r.resumed_at))}" if r.resumed_at else "")
    return duration(r.wall_time_s) + resumed


def _best(r: RunReport) -> str:
    if r.best is None:
        return "none (best.pt is kept by train.eval_every)"
    best = r.best
    score = ""
    if isinstance(best.get("metric"), str) and isinstance(best.get("value"), int | float):
        score = f": {best['metric']} {fmt(best['value'])}"
        if best.get("extractor"):
            score += f" ({best['extractor']})"
    return f"step {best.get('step')}{score}"


def _health(r: RunReport) -> str:
    if r.warnings:
        rules: dict[str, list] = {}
        for w in r.warnings:
            rules.setdefault(w.rule, []).append(w)
        rows = "".join(
            f"<tr><td>{e(rule)}</td><td>{len(ws)}</td><td>{_span(ws)}</td>"
            f"<td>{e(ws[-1].message)}</td></tr>" for rule, ws in rules.items())
        every = "".join(f"<li>step {w.step}: <b>{e(w.rule)}</b> {e(w.message)}</li>"
                        for w in r.warnings[-200:])
        body = (f"<table><tr><th>rule</th><th>times</th><th>steps</th><th>latest message</th>"
                f"</tr>{rows}</table><details><summary>every warning"
                f"{' (the last 200)' if len(r.warnings) > 200 else ''}</summary><ul>{every}</ul>"
                "</details>")
        cls = "health warn"
    else:
        body, cls = '<p class="ok">no warnings</p>', "health ok"
    if r.notes:
        notes = "".join(f"<li>{e(n)}</li>" for n in r.notes)
        body += ('<p class="notes-title">Not shown, or shown in part:</p>'
                 f'<ul class="notes">{notes}</ul>')
    return f'<div class="{cls}"><h3>Health</h3>{body}</div>'


def _span(warnings: list) -> str:
    first, last = warnings[0].step, warnings[-1].step
    return f"{first}" if first == last else f"{first} to {last}"


def _spec(r: RunReport) -> str:
    if not r.spec_text:
        return ""
    return (f'<details class="spec"><summary>Resolved spec</summary><pre>{e(r.spec_text)}</pre>'
            "</details>")


def _grids(index: int, r: RunReport) -> str:
    if not r.grids:
        return '<p class="empty">no sample grids yet</p>'
    latest = r.grids[-1]
    view = (f'<figure class="grid-view"><img src="{_uri(latest)}" width="{latest.width}" '
            f'height="{latest.height}" alt="samples of {e(r.label)} at step {latest.step}">'
            f'<figcaption class="grid-step">step {latest.step} (latest)</figcaption></figure>')
    if len(r.grids) == 1:
        return f'<div class="grids">{view}</div>'
    thumbs = "".join(
        f'<figure><img src="{_uri(g)}" width="{g.width}" height="{g.height}" '
        f'data-label="step {g.step}{" (latest)" if g is latest else ""}" '
        f'alt="step {g.step}"><figcaption>{g.step}</figcaption></figure>'
        for g in r.grids)
    left_out = (f" ({len(r.grids)} of {r.grids_total} grids, evenly spaced)"
                if r.grids_total > len(r.grids) else "")
    last = len(r.grids) - 1
    return (f'<div class="grids">{view}<label class="slider">training step{left_out} '
            f'<input type="range" min="0" max="{last}" value="{last}" step="1" '
            f'id="grid-slider-{index}" aria-label="training step of the grid shown"></label>'
            f'<div class="filmstrip">{thumbs}</div></div>')


def _uri(grid: Grid) -> str:
    return "data:image/png;base64," + base64.b64encode(grid.png).decode("ascii")


def _training(r: RunReport, salts: Iterator[str]) -> str:
    groups = training_groups(r.series)
    if not groups:
        return '<p class="empty">no training log lines yet</p>'
    marks = _marks(r)
    figures = [plots.line_plot(title, lines, next(salts), marks=marks) for title, lines in groups]
    return _plots(figures)


def _marks(r: RunReport) -> list[tuple[int, str]]:
    marks = [(step, f"resumed at {step}") for step in r.resumed_at]
    if r.best_step is not None:
        marks.append((r.best_step, f"best.pt (step {r.best_step})"))
    return marks


def _plots(figures: list[str]) -> str:
    return '<div class="plots">' + "".join(f"<figure>{f}</figure>" for f in figures) + "</div>"


def _scores(r: RunReport, salts: Iterator[str]) -> str:
    if not r.scores:
        return ('<p class="empty">no evaluations yet (train.eval_every scores during training; '
                "gen evaluate scores a checkpoint)</p>")
    metrics = list(dict.fromkeys(s.metric for s in r.scores))
    return "".join(_metric(r, m, [s for s in r.scores if s.metric == m], salts) for m in metrics)


def _metric(r: RunReport, metric: str, scores: list[Score], salts: Iterator[str]) -> str:
    lines: dict[str, list[tuple[int, float]]] = {}
    for s in scores:
        lines.setdefault(s.provenance_text(), []).append((s.step, s.value))
    best = r.best or {}
    star = marks = None
    if best.get("metric") == metric and r.best_step is not None:
        value = best.get("value")
        star = (r.best_step, float(value)) if isinstance(value, int | float) else None
        marks = [(r.best_step, f"best.pt (step {r.best_step})")]
    unit = next((s.unit for s in scores if s.unit), "")
    plot = plots.line_plot(f"{NAMES.get(metric, metric)} over steps", lines, next(salts),
                           marks=marks or (), star=star, ylabel=unit)
    return (f'<div class="score"><figure>{plot}</figure>'
            f'<div class="score-table">{_score_table(scores, r.best_step)}</div></div>')


def _score_table(scores: list[Score], best_step: int | None) -> str:
    columns = [
        ("step", lambda s: f"{s.step}" + (" ★" if s.step == best_step else "")),
        ("value", lambda s: fmt(s.value) + (f" ± {fmt(s.std)}" if s.std is not None else "")),
        ("unit", lambda s: s.unit),
        ("bits/dim", lambda s: None if s.bits_per_dim is None else fmt(s.bits_per_dim)),
        ("extractor", lambda s: s.extractor),
        ("hash", lambda s: s.extractor_hash),
        ("n", lambda s: s.images),
        ("real n", lambda s: s.real_images),
        ("reference", lambda s: s.reference),
        ("space", lambda s: s.space),
        ("reference data", lambda s: s.reference_data),
        ("sampler", lambda s: s.sampling),
        ("estimator", lambda s: s.estimator),
        ("by", lambda s: "training" if s.during_training else "gen evaluate"),
    ]
    used = [(name, get) for name, get in columns
            if name in ("step", "value") or any(get(s) is not None for s in scores)]
    head = "".join(f"<th>{e(name)}</th>" for name, _ in used)
    rows = "".join(
        "<tr>" + "".join(_cell(name, get(s)) for name, get in used) + "</tr>"
        for s in sorted(scores, key=lambda s: s.step))
    return f"<table><tr>{head}</tr>{rows}</table>"


def _cell(name: str, value: object) -> str:
    if value is None:
        return "<td>—</td>"
    if name == "hash":
        return f'<td><code title="{e(value)}">{e(short_hash(str(value)))}</code></td>'
    return f"<td>{e(value)}</td>"


def _coverage(r: RunReport, salts: Iterator[str]) -> str:
    if not r.coverage_latest:
        return ""
    latest = r.coverage_latest
    facts = "".join(
        f"<tr><th>{e(k.replace('_', ' '))}</th><td>{_coverage_value(k, v)}</td></tr>"
        for k, v in latest.items())
    figures = [plots.line_plot(title, lines, next(salts), marks=_marks(r))
               for title, lines in coverage_groups(r)]
    return ('<h3>Class coverage</h3><div class="top"><table class="facts">'
            f"{facts}</table></div>" + (_plots(figures) if figures else ""))


def _coverage_value(key: str, value: object) -> str:
    if key.endswith("_hash") and isinstance(value, str):
        return f'<code title="{e(value)}">{e(short_hash(value))}</code>'
    return e(fmt(value) if isinstance(value, float) else value)


# --- several runs ----------------------------------------------------------------------------


def _comparison(c: Comparison, reports: Sequence[RunReport], salts: Iterator[str]) -> str:
    notes: dict[str, int] = {}
    heads = []
    for col in c.columns:
        mark = ""
        if col.split:
            number = notes.setdefault(col.metric, len(notes) + 1)
            mark = f"<sup>{number}</sup>"
        heads.append(f"<th>{e(NAMES.get(col.metric, col.metric))}{mark}<br>"
                     f"<small>{e(provenance_text(col.provenance))}</small></th>")
    rows = []
    for i, r in enumerate(reports):
        fixed = [f'<a href="#run-{i}">{e(r.label)}</a>', e(r.model),
                 e(_data(r.info.get("data") if isinstance(r.info.get("data"), dict) else {})),
                 e(_steps(r)), e(duration(r.wall_time_s) if r.wall_time_s is not None else "—"),
                 e("—" if r.images_per_s is None else f"{r.images_per_s:,.1f}")]
        scores = [_compared(c.cells.get((i, j))) for j in range(len(c.columns))]
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in fixed + scores) + "</tr>")
    head = ("<tr><th>run</th><th>model</th><th>data</th><th>steps</th><th>wall time</th>"
            "<th>images/s</th>" + "".join(heads) + "</tr>")
    footnotes = "".join(_footnote(metric, n, c) for metric, n in notes.items())
    table = (f'<div class="wide"><table class="comparison">{head}{"".join(rows)}</table></div>'
             + (f'<ol class="footnotes">{footnotes}</ol>' if footnotes else "")
             + '<p class="meta">Scores are each run\'s latest of that metric; the step is '
               "under the value.</p>")
    figures = [plots.line_plot(title, lines, next(salts)) for title, lines in c.curves]
    curves = _plots(figures) if figures else '<p class="empty">no curves shared by two runs</p>'
    return (f'<section class="comparison" id="comparison"><h2>Comparison</h2>{table}'
            f"<h3>Shared curves</h3>{curves}</section>")


def _footnote(metric: str, number: int, c: Comparison) -> str:
    ways = "; ".join(provenance_text(col.provenance) for col in c.columns if col.metric == metric)
    return (f'<li value="{number}">{e(NAMES.get(metric, metric))} was computed in more than one '
            f"way among these runs ({e(ways)}): each way has its own column, and scores in "
            "different columns are not comparable.</li>")


def _compared(score: Score | None) -> str:
    if score is None:
        return "—"
    value = f"{fmt(score.value)}"
    if score.metric in ("nll", "elbo") or score.unit == "nats/image":
        value += " nats"
        if score.bits_per_dim is not None:
            value += f" · {fmt(score.bits_per_dim)} bits/dim"
    extra = f"step {score.step}" + (f", {score.estimator}" if score.metric in ("nll", "elbo")
                                    and score.estimator else "")
    return f"{e(value)}<br><small>{e(extra)}</small>"


# --- formats ---------------------------------------------------------------------------------


def fmt(value: float) -> str:
    return f"{value:.4g}"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


CSS = """
:root { color-scheme: light; --fg: #1d1f23; --muted: #5f6670; --line: #d9dde3; --bg: #fff;
  --panel: #f6f7f9; --warn: #a15c00; --warnbg: #fff4e0; --ok: #1e7b34; --okbg: #eaf6ec; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 1rem 1.5rem 4rem; color: var(--fg);
  background: var(--bg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { margin: 0; font-size: 1.6rem; }
h2 { margin: 0 0 .3rem; font-size: 1.35rem; }
h2 small { font-weight: normal; color: var(--muted); font-size: .8rem; }
h3 { margin: 1.4rem 0 .5rem; font-size: 1.05rem; }
header { border-bottom: 1px solid var(--line); padding-bottom: .6rem; margin-bottom: 1rem; }
header nav a { margin-right: .8rem; }
.meta, .empty { color: var(--muted); }
section { border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.2rem;
  margin: 1.2rem 0; }
.status { margin: 0 0 .8rem; color: var(--muted); }
.top { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
.facts th { color: var(--muted); font-weight: 600; white-space: nowrap; }
.health { flex: 1 1 320px; border-radius: 6px; padding: .2rem 1rem .8rem; }
.health h3 { margin-top: .6rem; }
.health.ok { background: var(--okbg); } .health.warn { background: var(--warnbg); }
.health .ok { color: var(--ok); font-weight: 600; }
.health.warn h3 { color: var(--warn); }
.notes-title { margin: .6rem 0 .2rem; color: var(--muted); }
.notes { margin: 0; padding-left: 1.2rem; color: var(--muted); }
details.spec { margin: .8rem 0; }
details pre { background: var(--panel); padding: .6rem; border-radius: 6px; max-height: 28rem;
  overflow: auto; font-size: .8rem; }
.grids { display: flex; flex-direction: column; gap: .4rem; }
.grid-view { margin: 0; }
.grid-view img { width: min(100%, 420px); height: auto; image-rendering: pixelated;
  border: 1px solid var(--line); }
.grid-step { font-weight: 600; }
.slider input { width: min(100%, 420px); vertical-align: middle; }
.filmstrip { display: flex; gap: .4rem; overflow-x: auto; padding-bottom: .3rem; }
.filmstrip figure { margin: 0; text-align: center; font-size: .75rem; color: var(--muted); }
.filmstrip img { width: 72px; height: auto; image-rendering: pixelated; cursor: pointer;
  border: 2px solid transparent; }
.filmstrip img.current { border-color: #1f77b4; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr));
  gap: .8rem; }
figure { margin: 0; }
.plots svg, .score svg { width: 100%; height: auto; display: block; }
.score { display: grid; grid-template-columns: minmax(300px, 460px) minmax(0, 1fr);
  gap: 1rem; margin-bottom: 1rem; align-items: start; }
.score-table { max-height: 22rem; overflow: auto; }
.score-table td, .score-table th { white-space: nowrap; }
.wide { overflow-x: auto; }
.comparison small, td small { color: var(--muted); }
.footnotes { color: var(--muted); font-size: .85rem; }
@media (max-width: 800px) { .score { grid-template-columns: 1fr; } }
"""

SCRIPT = """
document.querySelectorAll('.grids').forEach(function (box) {
  var slider = box.querySelector('input[type=range]');
  if (!slider) return;
  var view = box.querySelector('.grid-view img');
  var label = box.querySelector('.grid-step');
  var thumbs = box.querySelectorAll('.filmstrip img');
  function show(i) {
    var t = thumbs[i];
    view.src = t.src; view.alt = t.alt; label.textContent = t.dataset.label;
    thumbs.forEach(function (x, j) { x.classList.toggle('current', j === i); });
    slider.value = String(i);
  }
  slider.addEventListener('input', function () { show(Number(slider.value)); });
  thumbs.forEach(function (t, i) { t.addEventListener('click', function () { show(i); }); });
  show(thumbs.length - 1);
});
"""
