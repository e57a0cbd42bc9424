"""Where this process stands in a torchrun launch (read from the environment torchrun sets),
and the supervisor `gen train --nproc` runs torchrun under.

Kept free of torch at import so the CLI can ask before anything heavy is imported.
`python -m gen.launch ARGS` is torchrun with ARGS, quiet when a process fails (`main`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path


def launched_world_size() -> int:
    """The number of processes torchrun started (1 when not launched by it)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def local_rank() -> int:
    """This process's index on its machine, which picks its GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    """Only rank 0 writes output and prints; every process asks this before it does."""
    return os.environ.get("RANK", "0") == "0"


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
