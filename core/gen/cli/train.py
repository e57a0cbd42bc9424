"""gen train NAME: validate the spec, then hand it to the core's training loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import NoReturn

import click

from gen import specs
from gen.errors import SpecError
from gen.launch import STOP_FILE_ENV, is_main_process, launched_world_size
from gen.plugins import get_plugins
from gen.training.rundir import RunDir


@click.command("train")
@click.argument("name")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False), help="A JSON spec file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a spec field by dotted path, e.g. --set train.steps=200.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest "
              "checkpoint (only train.steps, the log/sample/checkpoint/eval cadence, "
              "keep_checkpoints, device, compile and channels_last may change).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine (one per GPU, or CPU processes with gloo): "
              "launches torchrun --standalone. train.batch_size stays the global batch.")
def train(name: str, spec_file: str | None, overrides: tuple[str, ...], out: str | None,
          resume: bool, quiet: bool, nproc: int) -> None:
    """Train model NAME. Without --spec, the model's defaults (on bundled MNIST) are used.

    For several machines, start `torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d
    --rdzv-endpoint HOST:PORT -m gen train NAME ...` on each (docs/distributed.md)."""
    info = get_plugins().registry.get(name)
    spec_class = info.spec_class()
    if resume:
        spec, run_dir = _resume_spec(spec_class, spec_file, overrides, out)
    else:
        raw = specs.load_json(spec_file) if spec_file else {}
        spec = specs.validate(spec_class, raw, overrides, source=spec_file)
        run_dir = out or spec.train.out or str(Path("runs") / f"{name}-{spec.data.dataset}")
    spec.train.out = str(run_dir)
    if nproc > 1:
        _launch(nproc, name, spec_file, overrides, str(run_dir), resume, quiet, spec)

    from gen.training.loop import Trainer  # imports torch

    result = Trainer(info, spec, RunDir(Path(run_dir)), show_progress=not quiet).train(resume)
    if not is_main_process():
        return
    click.echo(f"run directory: {result.run.root}")
    click.echo(f"  checkpoint:  {result.checkpoint}")
    click.echo(f"  samples:     {result.sample}")
    if result.interrupted:
        # Stopped by `gen train --nproc`, which reports it: a clean exit keeps torchrun quiet.
        sys.exit(0 if os.environ.get(STOP_FILE_ENV) else 130)


def _launch(nproc, name, spec_file, overrides, out, resume, quiet, spec) -> NoReturn:
    """Run this same command in ``nproc`` processes under torchrun, after the spec has been
    validated here once (so a mistake is reported once, not by every process)."""
    if launched_world_size() > 1:
        raise click.UsageError("--nproc cannot be used inside torchrun: the processes are "
                               "already launched")
    if spec.train.batch_size % nproc:
        raise SpecError([("train.batch_size", f"{spec.train.batch_size} cannot be shared "
                          f"equally by {nproc} processes: use a multiple of {nproc}")])
    args = [name, "--out", out, *(a for o in overrides for a in ("--set", o))]
    args += ["--spec", spec_file] if spec_file else []
    args += ["--resume"] if resume else []
    args += ["--quiet"] if quiet else []
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "gen", "train", *args]
    sys.exit(_run_stoppable(command, nproc))


def _run_stoppable(command: list[str], nproc: int) -> int:
    """Run torchrun in a session of its own, so Ctrl-C reaches only this process, which then
    asks the training processes to stop through a file they look for before every step: they
    agree on a step, checkpoint and exit cleanly (torchrun itself would answer the signal with
    a traceback). A second Ctrl-C or SIGTERM ends them at once."""
    stop_file = Path(tempfile.gettempdir()) / f"gen-stop-{uuid.uuid4().hex}"
    # One share of the cores per process unless the user chose (torchrun would pick 1).
    env = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc)), **os.environ,
           STOP_FILE_ENV: str(stop_file)}
    proc = subprocess.Popen(command, env=env, start_new_session=True)

    def stop(signum, frame):
        if stop_file.exists():
            os.killpg(proc.pid, signal.SIGTERM)
        stop_file.touch()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    stopped = stop_file.exists()
    stop_file.unlink(missing_ok=True)
    return 130 if stopped else code


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
