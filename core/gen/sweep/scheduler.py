"""Which trial each of a sweep's ``jobs`` workers runs next.

A worker first continues a trial of this folder left running by a process that is gone, then
starts a new one while the study has fewer than ``trials``. Whether a trial's process is alive
is the lock `SWEEP/logs/trial-NNNN.lock` it holds: the kernel's, so it dies with the process
(``kill -9`` included), and a trial is never run by two processes nor started twice. The study
counts every process's trials, so ``trials`` is the total however many processes share it.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gen.errors import RunLockedError
from gen.run.lock import RunLock
from gen.sweep.context import Sweep
from gen.sweep.outcome import SweepResult
from gen.sweep.trials import Claim, run_trial, tell


def run(sweep: Sweep) -> SweepResult:
    """Run the sweep's workers until the study has its trials or the sweep is stopped (Ctrl-C
    or SIGTERM: each running trial stops with a checkpoint and stays running in the study, so
    the same command continues it)."""
    scheduler = Scheduler(sweep)
    workers = [threading.Thread(target=scheduler.work, daemon=True, name=f"sweep-job-{i}")
               for i in range(sweep.jobs)]
    try:
        with _stop_on_signals(sweep.stop):
            for worker in workers:
                worker.start()
            while any(w.is_alive() for w in workers):
                for worker in workers:
                    worker.join(0.2)
    except BaseException:  # a second Ctrl-C, say: stop at once, and leave no trial running
        sweep.stop.set()
        for proc in list(sweep.running):
            proc.kill()
        raise
    if scheduler.crash:
        raise scheduler.crash[0]
    return SweepResult(sweep.study, sweep.folder.root, sweep.metric, sweep.direction,
                       interrupted=sweep.stop.is_set())


class Scheduler:
    """The workers' shared choice of trials: one worker at a time asks (``_ask``), so the
    workers of one process never take one trial twice nor ask for one trial too many."""

    def __init__(self, sweep: Sweep):
        self.s = sweep
        self._ask = threading.Lock()
        self._held: set[int] = set()  # trials this process runs: not probed for their lock
        self.crash: list[BaseException] = []

    def work(self) -> None:
        """One worker: trials until none is left for it."""
        try:
            while not self.s.stop.is_set():
                claim = self._next()
                if claim is None:
                    return
                try:
                    run_trial(self.s, claim)
                finally:
                    claim.lock.release()
                    with self._ask:
                        self._held.discard(claim.number)
        except BaseException as exc:  # a bug or a storage that failed: the sweep stops with it
            self.crash.append(exc)
            self.s.stop.set()

    def _next(self) -> Claim | None:
        with self._ask:
            while not self.s.stop.is_set():
                claim = self._adopt()
                if claim is None and not self.s.exhausted and self._counted() < self.s.trials:
                    claim = self._new()
                    if claim is False:
                        continue  # an adopter took it the instant it was made: ask again
                if claim:
                    self._held.add(claim.number)
                return claim or None
        return None

    def _adopt(self) -> Claim | None:
        """A trial of this folder left running by a process that is gone (its lock is free):
        it continues, from its run's checkpoint."""
        op, study = self.s.optuna, self.s.study
        running = op.trial.TrialState.RUNNING
        for t in study.get_trials(deepcopy=False, states=(running,)):
            path = self.s.folder.claim_file(t.number)
            if t.user_attrs.get("sweep_id") != self.s.id or t.number in self._held or \
                    not path.is_file():
                continue
            try:
                lock = RunLock(path).acquire()
            except RunLockedError:
                continue
            if self._state(t.number) == running:
                # Optuna's Trial for a trial that exists (what study.ask builds for a new one)
                return Claim(op.trial.Trial(study, t._trial_id), lock)
            lock.release()
        return None

    def _new(self) -> Claim | bool | None:
        """A new trial, claimed; False if an adopter took it as it was made; None if it is one
        too many (processes sharing the study asked at once: it is closed as failed and marked
        ``surplus``, and every count leaves it out, so the study keeps ``trials``)."""
        trial = self.s.study.ask()
        for key, value in (("sweep_id", self.s.id), ("run", self.s.folder.run_name(trial.number)),
                           ("host", socket.gethostname())):
            trial.set_user_attr(key, value)
        path = self.s.folder.claim_file(trial.number)
        try:
            lock = RunLock(path).acquire()
        except RunLockedError:
            return False
        if self._counted(upto=trial.number) > self.s.trials:
            trial.set_user_attr("surplus", True)
            tell(self.s, trial, state=self.s.optuna.trial.TrialState.FAIL)
            lock.release()
            path.unlink(missing_ok=True)
            return None
        return Claim(trial, lock)

    def _counted(self, upto: int | None = None) -> int:
        """Trials that count towards ``trials`` (those numbered up to ``upto``)."""
        return sum(1 for t in self.s.study.get_trials(deepcopy=False)
                   if not t.user_attrs.get("surplus") and (upto is None or t.number <= upto))

    def _state(self, number: int) -> Any:
        return next(t.state for t in self.s.study.get_trials(deepcopy=False)
                    if t.number == number)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (in the main thread only: elsewhere Python takes no
    signals); the workers pass it on to their trials. A second Ctrl-C stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, frame) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
