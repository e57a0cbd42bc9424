"""gen train NAME: `gen.train` on the command line, or under torchrun with --nproc."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from gen.cli.options import UserPath
from gen.errors import SpecError, UsageError
from gen.launch import (
    STOP_FILE_ENV,
    is_main_process,
    launch,
    launched_world_size,
    run_stoppable,
    torchrun_command,
)
from gen.specs import RunSpec
from gen.training.api import prepare


@click.command("train")
@click.argument("name")
@click.option("--spec", "spec_file", type=UserPath(dir_okay=False), help="A JSON spec file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a spec field by dotted path, e.g. --set train.steps=200.")
@click.option("--out", type=UserPath(file_okay=False),
              help="Run directory: missing, empty, or a gen run (default train.out, else "
              "runs/NAME-DATASET).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest "
              "checkpoint (only train.steps, the log/sample/checkpoint/eval cadence, "
              "keep_checkpoints, device, compile and channels_last may change).")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress: neither the bar (on a terminal) nor the lines (elsewhere).")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine (one per GPU, or CPU processes with gloo): "
              "launches torchrun --standalone. train.batch_size stays the global batch.")
def train(name: str, spec_file: str | None, overrides: tuple[str, ...], out: str | None,
          resume: bool, quiet: bool, nproc: int) -> None:
    """Train model NAME (PLUGIN:NAME where two plugins register it). Without --spec, the
    model's defaults (on bundled MNIST) are used.

    For several machines, start `torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d
    --rdzv-endpoint HOST:PORT -m gen train NAME ...` on each (docs/distributed.md)."""
    launch()  # a torchrun environment that does not hold together, before anything else
    info, spec, root = prepare(name, spec_file, overrides, out, resume)
    if nproc > 1:
        _launch(nproc, name, spec_file, overrides, str(root), resume, quiet, spec)

    from gen.run.layout import RunDir
    from gen.training.loop import Trainer  # imports torch

    result = Trainer(info, spec, RunDir(root), show_progress=not quiet).train(resume)
    if not is_main_process():
        return
    click.echo(f"run directory: {result.run.root}")
    for what, path in (("checkpoint", result.checkpoint), ("samples", result.sample)):
        if path is not None:  # a run stopped before its first step wrote neither
            click.echo(f"  {what + ':':<12} {path}")
    if result.interrupted and not result.out_of_time:  # the budget is a planned stop: exit 0
        # Stopped by `gen train --nproc`, which reports it: a clean exit keeps torchrun quiet.
        sys.exit(0 if os.environ.get(STOP_FILE_ENV) else 130)


def _launch(nproc: int, name: str, spec_file: str | None, overrides: tuple[str, ...], out: str,
            resume: bool, quiet: bool, spec: RunSpec) -> NoReturn:
    """Run this same command in ``nproc`` processes under torchrun, after the spec has been
    validated here once (so a mistake is reported once, not by every process)."""
    if launched_world_size() > 1:
        raise UsageError("--nproc cannot be used inside torchrun: the processes are already "
                         "launched")
    batch_size = spec.train.batch_size
    if batch_size % nproc:
        raise SpecError([("train.batch_size", f"{batch_size} cannot be shared equally by "
                          f"{nproc} processes: use a multiple of {nproc}")])
    if resume:  # its checkpoint against the spec, once here rather than by every process
        from gen.run.layout import RunDir
        from gen.run.resume import resume_point  # imports torch

        resume_point(RunDir(Path(out)), spec)
    args = [name, "--out", out, *(a for o in overrides for a in ("--set", o))]
    args += ["--spec", spec_file] if spec_file else []
    args += ["--resume"] if resume else []
    args += ["--quiet"] if quiet else []
    sys.exit(run_stoppable(torchrun_command(nproc, ["train", *args]), nproc))
