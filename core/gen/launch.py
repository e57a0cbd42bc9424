"""Where this process stands in a torchrun launch (read from the environment torchrun sets),
and the supervisor `gen train --nproc` runs torchrun under.

Kept free of torch at import so the CLI can ask before anything heavy is imported.
`python -m gen.launch ARGS` is torchrun with ARGS, quiet when a process fails (`main`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from gen.errors import UsageError


@dataclass(frozen=True)
class Launch:
    """This process's place among those torchrun started: (0, 1, 0) when it started none."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0


def launch() -> Launch:
    """The torchrun environment ($RANK, $WORLD_SIZE, $LOCAL_RANK, and $MASTER_ADDR and
    $MASTER_PORT for more than one process), checked: a variable that is not a whole number,
    a rank outside the world, or a part of the set without the rest is a `UsageError` naming
    it, where torch would raise a KeyError or wait for peers that never come."""
    given = {name: os.environ.get(name) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    if all(v is None for v in given.values()):
        return Launch()
    values = {name: _whole(name, v) for name, v in given.items() if v is not None}
    size = values.get("WORLD_SIZE")
    if size is None and not any(values.values()):  # RANK=0 alone: one process, as it is
        return Launch()
    if size is None:
        named = " and ".join(f"${k}" for k in values)
        raise UsageError(f"{named} {'is' if len(values) == 1 else 'are'} set but $WORLD_SIZE is "
                         f"not: {NOT_TORCHRUN}")
    if size < 1:
        raise UsageError(f"$WORLD_SIZE is {size}; expected 1 or more ({NOT_TORCHRUN})")
    if size > 1 and "RANK" not in values:
        raise UsageError(f"$WORLD_SIZE is {size} but $RANK is unset: {NOT_TORCHRUN}")
    rank, local = values.get("RANK", 0), values.get("LOCAL_RANK", 0)
    for name, value in (("RANK", rank), ("LOCAL_RANK", local)):
        if value >= size:
            raise UsageError(f"${name} is {value}, outside $WORLD_SIZE={size} processes "
                             f"(0 to {size - 1}): {NOT_TORCHRUN}")
    if size > 1:
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if not os.environ.get(name, "").strip():
                raise UsageError(f"$WORLD_SIZE is {size} but ${name} is unset: {NOT_TORCHRUN}")
        port = _whole("MASTER_PORT", os.environ["MASTER_PORT"])
        if not 1 <= port <= 65535:
            raise UsageError(f"$MASTER_PORT is {port}; expected a port from 1 to 65535 "
                             f"({NOT_TORCHRUN})")
    return Launch(rank, size, local)


NOT_TORCHRUN = ("gen reads these from torchrun; launch with `gen train --nproc N` or torchrun "
                "(docs/distributed.md), or unset them")


def _whole(name: str, value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", value.strip()):
        raise UsageError(f"${name} is {value!r:.40}; expected a whole number ({NOT_TORCHRUN})")
    return int(value)


def launched_world_size() -> int:
    """The number of processes torchrun started (1 when not launched by it)."""
    return launch().size


def local_rank() -> int:
    """This process's index on its machine, which picks its GPU."""
    return launch().local_rank


def is_main_process() -> bool:
    """Only rank 0 writes output and prints; every process asks this before it does."""
    return launch().rank == 0


def rank_prefix() -> str:
    """``[rank N] `` before a message of one of several processes; empty otherwise (and for
    an environment `launch` refuses, whose own error is being shown)."""
    try:
        where = launch()
    except UsageError:
        return ""
    return "" if where.size == 1 else f"[rank {where.rank}] "


# Set by `gen train --nproc` for the processes it launches: the file it creates to ask them to
# stop (see gen.cli.train).
STOP_FILE_ENV = "GEN_STOP_FILE"


def stop_requested() -> bool:
    """Whether the launcher asked the training processes to stop."""
    path = os.environ.get(STOP_FILE_ENV)
    return path is not None and os.path.exists(path)


def run_stoppable(command: list[str], nproc: int) -> int:
    """Run torchrun in a session of its own, so Ctrl-C reaches only this process, which then
    asks the training processes to stop through a file they look for before every step: they
    agree on a step, checkpoint and exit cleanly (torchrun itself would answer the signal with
    a traceback). A second Ctrl-C or SIGTERM ends them at once. Returns the exit code."""
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


def torchrun_command(nproc: int, args: list[str]) -> list[str]:
    """The command that runs ``python -m gen ARGS`` in ``nproc`` processes on this machine
    (torchrun --standalone, through `main`)."""
    return [sys.executable, "-m", "gen.launch", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "gen", *args]


def main() -> None:
    """torchrun with this command's arguments. A process that fails ends it with that
    process's exit code and without torchrun's ChildFailedError traceback, which would only
    repeat, as a traceback, what the process printed (its ``[rank N] error:`` line). A process
    killed by a signal printed nothing, so that is said here."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun()
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        if failure.exitcode < 0:
            print(f"[rank {rank}] error: killed by {failure.signal_name()}", file=sys.stderr)
        sys.exit(failure.exitcode if failure.exitcode > 0 else 1)


if __name__ == "__main__":
    main()
