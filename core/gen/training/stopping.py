"""When training stops early: Ctrl-C and SIGTERM (`stop_requests`), the wall-clock budget
``train.max_time`` (`Budget`), how processes of a multi-process run agree on both, and what a
stopped run says (`stop_message`)."""

from __future__ import annotations

import shlex
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gen.distributed import World
from gen.launch import stop_requested
from gen.run.layout import RunDir


class Budget:
    """``train.max_time``: seconds of wall-clock time from the first step of this process."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def spent(self) -> bool:
        return self.seconds is not None and self.elapsed() >= self.seconds


def agreed(stop: bool, world: World | None) -> bool:
    """Whether to stop now: in a multi-process run, as soon as any process was asked to (by a
    signal or by `gen train --nproc`), so every process stops after the same step and one
    consistent checkpoint is written."""
    return world.any(stop or stop_requested()) if world is not None else stop


def out_of_time(signalled: bool, spent: bool, world: World | None) -> bool:
    """Whether a stop all processes agreed on is the budget's: some process ran out of
    ``train.max_time`` and none was asked to stop (a signal, or `gen train --nproc`'s stop
    file), which takes precedence and exits as an interruption. Every process calls this at
    the same step, so the collectives pair up."""
    if world is None:
        return spent and not signalled
    return world.any(spent) and not world.any(signalled or stop_requested())


@contextmanager
def stop_requests() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set an event the loop checks between steps, so the step in flight
    finishes and a consistent checkpoint is written. A second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def stop_message(model: str, run: RunDir, step: int, written: bool, max_time: float | None,
                 nproc: int | None) -> str:
    """What a run stopped before ``train.steps`` says: the step reached, why (``max_time`` for
    the budget), the checkpoint of that step (``written`` now, or the one resumed from) and
    the command that continues it. A new run stopped before its first step has no
    checkpoint: it is told to start again, never to ``--resume``, which would fail."""
    why = "" if max_time is None else f" on its time budget (train.max_time = {max_time:g} s)"
    out = shlex.quote(str(run.root))
    procs = f" --nproc {nproc}" if nproc else ""
    if not written and step == 0:
        again, longer = ("", "") if max_time is None else (
            " with a longer budget", " --set train.max_time=SECONDS")
        return (f"stopped before its first step{why}: nothing was trained and no checkpoint "
                f"written, so there is nothing to resume. Start it again{again}: `gen train "
                f"{model} --spec {shlex.quote(str(run.spec_path))} --out {out}{longer}{procs}`.")
    kept = "checkpoint written" if written else f"its checkpoint of step {step} is kept"
    return (f"stopped at step {step}{why}; {kept}. Continue with `gen train {model} --out "
            f"{out} --resume{procs}`.")
