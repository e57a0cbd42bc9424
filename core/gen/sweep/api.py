"""`gen.sweep`: a hyper-parameter study on Optuna whose trials are ordinary gen runs.

`prepare` checks everything before any trial starts (the model, the fixed spec, the space
against the model's spec, the metric, the folder and the storage); `gen.sweep.scheduler` then
hands trials to ``jobs`` workers and `gen.sweep.trials` runs each. Importing this module is
cheap: Optuna and torch load when a sweep runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import click

from gen import specs
from gen.arguments import whole
from gen.errors import UsageError
from gen.paths import user_path
from gen.plugins import get_plugins
from gen.spec_json import apply_overrides, load_json
from gen.sweep import space as spaces
from gen.sweep import storage as stores
from gen.sweep.context import Sweep
from gen.sweep.folder import SweepDir
from gen.sweep.outcome import SweepResult
from gen.sweep.scheduler import run

SpecInput = specs.RunSpec | Mapping[str, Any] | str | Path | None
Overrides = Mapping[str, Any] | Sequence[str] | None
PRUNERS = ("median", "none")
JOBS_PER_CORE = 4  # each job is a training process: more than this a core is waste


def sweep(name: str, space: Mapping[str, Any] | str | Path | None = None, trials: int = 20, *,
          jobs: int = 1, storage: str | None = None, metric: str | None = None,
          out: str | Path | None = None, spec: SpecInput = None, overrides: Overrides = None,
          study: str | None = None, pruner: str | Any = "median", sampler: Any = None,
          progress: bool = True) -> SweepResult:
    """Search ``space`` for the spec of model ``name`` that scores best on ``metric`` (default
    the spec's ``train.eval_metric``), over ``trials`` trials in all (across every process that
    shares the study), ``jobs`` at a time. Each trial is a gen run in ``out`` (default
    ``sweeps/<study>``); the study (named ``study``, default the model's name) lives in
    ``storage`` (an Optuna RDB URL; default SQLite in ``out``). ``spec`` and ``overrides`` are
    the fixed part, as for `gen.train`. Run again, it continues: trials left running by a
    killed sweep resume from their checkpoints. ``pruner`` is ``"median"``, ``"none"`` or an
    Optuna pruner; ``sampler`` an Optuna sampler (default TPE)."""
    return run(prepare(name, space, trials, jobs=jobs, storage=storage, metric=metric, out=out,
                       spec=spec, overrides=overrides, study=study, pruner=pruner,
                       sampler=sampler, progress=progress))


def prepare(name: str, space: Mapping[str, Any] | str | Path | None, trials: int, *, jobs: int,
            storage: str | None, metric: str | None, out: str | Path | None, spec: SpecInput,
            overrides: Overrides, study: str | None, pruner: str | Any, sampler: Any,
            progress: bool) -> Sweep:
    """Everything checked and opened before the first trial; nothing is written where a check
    fails (a new sweep's folder is made only once its storage opens)."""
    trials = whole(trials, "--trials")
    cores = os.cpu_count() or 1
    jobs = whole(jobs, "--jobs", 1, JOBS_PER_CORE * cores, why="(each job is a training "
                 f"process: at most {JOBS_PER_CORE} per core of the {cores} here)")
    if isinstance(pruner, str) and pruner not in PRUNERS:
        raise UsageError(f"unknown pruner {pruner!r}: expected {' or '.join(PRUNERS)}")
    info = get_plugins().registry.get(name)
    folder = SweepDir(user_path(out, "--out") if out is not None
                      else Path("sweeps") / (study or info.name))
    given = folder.read() or {}  # a sweep continued: what is not given again is as recorded
    study = study or given.get("study") or info.name
    stores.optuna()  # before any work: installed?
    source, raw_space = None, given.get("space")
    if space is not None:
        raw_space, source = spaces.load_space(space)
    if raw_space is None:
        raise UsageError("--space is needed to start a sweep (a JSON file of ranges and "
                         "choices; see docs/sweep.md)")
    spec_class = info.spec_class()
    fixed = _fixed(spec, overrides, given.get("spec"))
    metric = _metric(metric or given.get("metric"), fixed, spec_class)
    base = specs.validate(spec_class, fixed).model_dump(mode="json")
    params = spaces.parse_space(raw_space, source)
    spaces.check_space(spec_class, fixed, params, source)
    url = storage if storage is not None else given.get("storage")
    if storage is None and url is not None and stores.has_hidden_password(url):
        raise UsageError(f"{folder.root}'s study is in {url}, whose password gen does not "
                         "record: pass --storage again")
    definition = json.loads(json.dumps({
        "study": study, "model": info.name, "plugin": info.plugin, "space": raw_space,
        "metric": metric, "direction": _direction(metric), "spec": fixed,
        "storage": None if url is None else stores.masked(url)}))
    recorded = folder.check_target(definition)
    opened = stores.open_storage(url) if url is not None else None
    recorded = recorded or folder.create(definition)
    opened = opened or stores.open_storage(folder.default_storage())
    op = stores.optuna()
    if isinstance(pruner, str):
        pruner = op.pruners.MedianPruner() if pruner == "median" else op.pruners.NopPruner()
    the_study = stores.open_study(opened, study, definition["direction"], definition,
                                  sampler=sampler, pruner=pruner)
    return Sweep(op, the_study, folder, recorded["id"], name, spec_class, fixed, base, params,
                 metric, definition["direction"], trials, jobs,
                 say=(lambda line: click.echo(line, err=True)) if progress else _quiet)


def _fixed(spec: SpecInput, overrides: Overrides, recorded: dict[str, Any] | None
           ) -> dict[str, Any]:
    """The fixed part of every trial's spec, raw (a family's defaults still follow from the
    fields a trial sets): the spec and overrides given, else those sweep.json records."""
    if spec is None and not overrides and recorded is not None:
        return recorded
    if spec is None:
        raw, source = {}, None
    elif isinstance(spec, specs.RunSpec):
        raw, source = spec.model_dump(mode="json"), None
    elif isinstance(spec, str | Path):
        raw, source = load_json(spec), str(spec)
    else:
        raw, source = dict(spec), None
    if isinstance(overrides, Mapping):
        pairs = [f"{k}={json.dumps(v, default=str)}" for k, v in overrides.items()]
    else:
        pairs = [overrides] if isinstance(overrides, str) else list(overrides or ())
    try:
        apply_overrides(raw, pairs)
    except specs.SpecError as exc:
        raise specs.SpecError(exc.problems, source) from None
    return raw


def _metric(metric: str | None, fixed: dict[str, Any], spec_class: type) -> str:
    """The score: ``metric``, which the trials' periodic evaluations (``train.eval_every``)
    must measure too, so the pruner sees the numbers the trials are ranked by; default the
    spec's ``train.eval_metric``."""
    if metric is None:
        metric = specs.validate(spec_class, fixed).train.eval_metric
    known = get_args(specs.TrainSpec.model_fields["eval_metric"].annotation)
    if metric not in known:
        raise UsageError(f"--metric {metric!r}: expected one of {', '.join(known)}")
    train = fixed.setdefault("train", {})
    chosen = train.get("eval_metric") if isinstance(train, dict) else None
    if chosen is not None and chosen != metric:
        raise UsageError(f"--metric {metric} but the spec sets train.eval_metric={chosen}: "
                         "the pruner must see the score the trials are ranked by")
    if isinstance(train, dict):  # else validation names train
        train["eval_metric"] = metric
    return metric


def _direction(metric: str) -> str:
    from gen.evaluation.evaluate import HIGHER_IS_BETTER  # imports torch

    return "maximize" if metric in HIGHER_IS_BETTER else "minimize"


def _quiet(line: str) -> None:
    """No progress lines (``progress=False``)."""
