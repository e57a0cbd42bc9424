"""gen train NAME: validate the spec, then hand it to the core's training loop."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gen import specs
from gen.errors import SpecError
from gen.plugins import get_plugins
from gen.training.rundir import RunDir


@click.command("train")
@click.argument("name")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False), help="A JSON spec file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a spec field by dotted path, e.g. --set train.steps=200.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest "
              "checkpoint (only train.steps, the log/sample/checkpoint cadence, "
              "keep_checkpoints and device may change).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(name: str, spec_file: str | None, overrides: tuple[str, ...], out: str | None,
          resume: bool, quiet: bool) -> None:
    """Train model NAME. Without --spec, the model's defaults (on bundled MNIST) are used."""
    info = get_plugins().registry.get(name)
    spec_class = info.spec_class()
    if resume:
        spec, run_dir = _resume_spec(spec_class, spec_file, overrides, out)
    else:
        raw = specs.load_json(spec_file) if spec_file else {}
        spec = specs.validate(spec_class, raw, overrides, source=spec_file)
        run_dir = out or spec.train.out or str(Path("runs") / f"{name}-{spec.data.dataset}")
    spec.train.out = str(run_dir)

    from gen.training.loop import Trainer  # imports torch

    result = Trainer(info, spec, RunDir(Path(run_dir)), show_progress=not quiet).train(resume)
    click.echo(f"run directory: {result.run.root}")
    click.echo(f"  checkpoint:  {result.checkpoint}")
    click.echo(f"  samples:     {result.sample}")
    if result.interrupted:
        sys.exit(130)


def _resume_spec(spec_class, spec_file, overrides, out):
    if spec_file:
        raise click.UsageError("--spec cannot be combined with --resume: a resumed run keeps "
                               "the spec in its run directory")
    if not out:
        raise click.UsageError("--resume needs --out RUN_DIR, the run to continue")
    keys = [".".join(specs.parse_override(o)[0]) for o in overrides]
    fixed = [k for k in keys if k not in specs.RESUMABLE_OVERRIDES]
    if fixed:
        allowed = ", ".join(specs.RESUMABLE_OVERRIDES)
        raise SpecError([(k, f"cannot change on --resume (only {allowed})") for k in fixed])
    run = RunDir(Path(out))
    spec = specs.validate(spec_class, run.read_spec(), overrides, source=str(run.spec_path))
    return spec, out
