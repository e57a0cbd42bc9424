"""gen sweep NAME: `gen.sweep` on the command line."""

from __future__ import annotations

import shlex
import sys

import click

from gen.cli.options import UserPath
from gen.sweep.api import PRUNERS
from gen.sweep.api import sweep as run_sweep
from gen.sweep.outcome import SweepResult


@click.command("sweep")
@click.argument("name")
@click.option("--space", help="The search space: a JSON file (or JSON text) of spec fields "
              "and their ranges, e.g. {\"model.optimizer.lr\": {\"log_uniform\": [1e-5, 1e-2]}}"
              "; uniform, log_uniform, int (\"log\": true) and choice. Needed to start a "
              "sweep; a sweep continued keeps its own.")
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="Trials in the whole study, counting those of every process that shares it.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials this process runs at once (each a `gen train` process).")
@click.option("--storage", help="An Optuna RDB URL shared by sweeps on several machines, e.g. "
              "postgresql://host/db (default: SQLite in --out).")
@click.option("--metric", help="The score, lowest best for fid, kid, nll, elbo, highest for "
              "precision, recall, is, probe (default the spec's train.eval_metric, fid). "
              "train.eval_every evaluations feed the pruner.")
@click.option("--out", type=UserPath(file_okay=False),
              help="The sweep folder: missing, empty or this sweep (default sweeps/STUDY).")
@click.option("--study", help="The study's name in the storage (default the model's name).")
@click.option("--spec", "spec_file", type=UserPath(dir_okay=False),
              help="A JSON spec file: the fixed part of every trial's spec.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a fixed spec field, e.g. --set train.max_time=60.")
@click.option("--pruner", type=click.Choice(PRUNERS), default="median", show_default=True,
              help="Stops a trial whose train.eval_every scores fall behind the median of "
              "earlier trials at the same step; none: every trial runs to its end.")
def sweep(name: str, space: str | None, trials: int, jobs: int, storage: str | None,
          metric: str | None, out: str | None, study: str | None, spec_file: str | None,
          overrides: tuple[str, ...], pruner: str) -> None:
    """Search hyper-parameters of model NAME: each trial is a gen run in the sweep folder,
    scored by --metric at its end; the study lives in Optuna's storage. Run again, the same
    command continues a stopped or killed sweep (trials resume from their checkpoints); several
    processes, on several machines with --storage, share one study. `gen report SWEEP` ranks
    the trials."""
    result = run_sweep(name, space, trials, jobs=jobs, storage=storage, metric=metric,
                       out=out, spec=spec_file, overrides=list(overrides), study=study,
                       pruner=pruner)
    _summary(result)
    if result.interrupted:
        click.echo("stopped: the same command continues the sweep", err=True)
        sys.exit(130)


def _summary(result: SweepResult) -> None:
    counts = ", ".join(f"{n} {state}" for state, n in result.counts().items())
    click.echo(f"sweep folder: {result.folder} ({counts or 'no trials'})")
    best = result.best
    if best is None:
        click.echo("  best:   none complete yet")
        return
    click.echo(f"  best:   trial {best.number}, {result.metric} {best.value:.4g}")
    for key, value in best.params.items():
        click.echo(f"          {key} = {value}")
    click.echo(f"  run:    {best.run}")
    click.echo(f"  report: gen report {shlex.quote(str(result.folder))}")
