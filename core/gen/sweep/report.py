"""`gen report SWEEP`: one self-contained HTML page of a sweep: its trials ranked best first
(parameters, state, the run folder of each), the optimisation history, each trial's scores
during training and the parameters' importances. Plots are inline SVG; the page needs no
network."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from gen.errors import GenError
from gen.report.page import MARKER
from gen.sweep import plots
from gen.sweep import storage as stores
from gen.sweep.folder import SweepDir
from gen.sweep.outcome import SweepResult, last_score, state

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:75em;padding:0 1em;
color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px}td,th{padding:.25em .6em;text-align:left;
border-bottom:1px solid #ddd;vertical-align:top}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.pruned td{color:#a33}tr.failed td,tr.running td{color:#777}.plots{display:flex;
flex-wrap:wrap;gap:1em}.note{color:#666}code{font-size:12px}
"""


def render_sweep_report(sweep_dir: str | Path, storage: str | None = None) -> str:
    """The page of the sweep in ``sweep_dir``, as HTML text. ``storage`` reopens a study whose
    URL had a password (sweep.json keeps it without)."""
    folder = SweepDir(Path(sweep_dir))
    definition = folder.require()
    result = SweepResult(_load(folder, definition, storage), folder.root,
                         definition["metric"], definition["direction"])
    trials = result.trials()
    sections = [_facts(definition, result), _plots(result, trials), _table(result, trials)]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"{MARKER}<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>sweep {_e(definition['study'])}</title><style>{STYLE}</style></head>"
            f"<body>\n<h1>sweep {_e(definition['study'])}: {_e(definition['model'])}</h1>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def _load(folder: SweepDir, definition: dict[str, Any], storage: str | None) -> Any:
    url = storage or definition.get("storage")
    if url is None:
        if not (folder.root / "study.db").is_file():
            raise GenError(f"{folder.root} has no study yet (no study.db): its sweep never "
                           "started a trial")
        url = folder.default_storage()
    elif stores.has_hidden_password(url):
        raise GenError(f"the study of {folder.root} is in {url}, whose password gen does not "
                       "record: give the storage URL with its password")
    op = stores.optuna()
    try:
        return op.load_study(study_name=definition["study"], storage=stores.open_storage(url))
    except KeyError:
        raise GenError(f"no study {definition['study']!r} in {stores.masked(url)}") from None


def _facts(d: dict[str, Any], result: SweepResult) -> str:
    space = "<br>".join(f"<code>{_e(k)}</code>: {_e(json.dumps(v))}" for k, v in d["space"].items())
    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items()) or "none yet"
    better = "higher" if d["direction"] == "maximize" else "lower"
    rows = [("folder", _e(str(result.folder))), ("model", _e(f"{d['model']} ({d['plugin']})")),
            ("score", f"{_e(d['metric'])} at each trial's last step, {better} is better"),
            ("space", space), ("fixed spec", f"<code>{_e(json.dumps(d['spec']))}</code>"),
            ("storage", _e(d.get("storage") or f"sqlite in {result.folder}")),
            ("trials", counts)]
    best = result.best
    if best is not None:
        rows.append(("best", f"trial {best.number}: {_e(d['metric'])} {best.value:.4g} "
                             f"(<a href=\"{_e(_href(best.run))}\">{_e(str(best.run))}</a>)"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _plots(result: SweepResult, trials: list[Any]) -> str:
    figures = [plots.history(trials, result.metric, result.direction),
               plots.intermediate(trials, result.metric)]
    note = ""
    try:
        figures.append(plots.importances(_importances(result.study)))
    except (RuntimeError, ValueError) as exc:  # too few complete trials, a constant parameter
        note = f"<p class=\"note\">no parameter importances: {_e(str(exc).splitlines()[0])}</p>"
    shown = "".join(f"<div>{svg}</div>" for svg in figures if svg)
    if not shown:
        return "<h2>plots</h2><p class=\"note\">no trial has a score yet</p>"
    return f"<h2>plots</h2><div class=\"plots\">{shown}</div>{note}"


def _importances(study: Any) -> dict[str, float]:
    op = stores.optuna()
    complete = study.get_trials(deepcopy=False, states=(op.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        raise ValueError(f"{len(complete)} complete trial(s); at least 2 are needed")
    return op.importance.get_param_importances(study)


def _table(result: SweepResult, trials: list[Any]) -> str:
    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    head = "".join(f"<th>{_e(h)}</th>" for h in ["rank", "trial", "state", result.metric,
                                                  "at step", *keys, "run"])
    rows = []
    for rank, t in enumerate(trials, 1):
        s = state(t)
        value = t.value if s == "complete" else last_score(t)
        step = (t.user_attrs.get("score", {}).get("step") if s == "complete"
                else t.user_attrs.get("pruned_at", max(t.intermediate_values, default=None)))
        run = result.folder / t.user_attrs.get("run", f"trial-{t.number:04d}")
        cells = [str(rank) if s == "complete" else "", str(t.number),
                 s + (f": {_e(t.user_attrs['error'])}" if "error" in t.user_attrs else ""),
                 "" if value is None else f"{value:.4g}", "" if step is None else str(step),
                 *(_e(_text(t.params.get(k, ""))) for k in keys),
                 f"<a href=\"{_e(_href(run))}\">{_e(run.name)}</a>"]
        classes = ["num", "num", "", "num", "num", *("num" for _ in keys), ""]
        tds = "".join(f"<td class=\"{c}\">{v}</td>" if c else f"<td>{v}</td>"
                      for c, v in zip(classes, cells, strict=True))
        rows.append(f"<tr class=\"{s}\">{tds}</tr>")
    body = "\n".join(rows) or f"<tr><td colspan=\"{6 + len(keys)}\">no trials yet</td></tr>"
    return f"<h2>trials, best first</h2><table><tr>{head}</tr>\n{body}</table>"


def _text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _href(path: Path) -> str:
    return path.resolve().as_uri()


def _e(text: str) -> str:
    return html.escape(str(text))
