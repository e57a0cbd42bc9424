"""The trackers of one run, driven as one: built from ``train.trackers``, each working through
a queue in a thread of its own, so a slow or hung tracker never holds training up and a failing
one is a warning, not a failed run.

Bounds: `start` waits ``START_TIMEOUT_S`` for each tracker (its state goes into run.json), the
queue holds ``QUEUE_SIZE`` calls (beyond that calls are dropped, with one warning, rather than
memory growing behind a stalled server), and `finish` waits ``FINISH_TIMEOUT_S`` in all.
"""

from __future__ import annotations

import contextlib
import importlib.util
import queue
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from gen.errors import GenError, GenWarning
from gen.plugins import get_plugins
from gen.spec_plugins import tracker_options
from gen.tracking.base import TrackedRun, Tracker

START_TIMEOUT_S = 60.0
FINISH_TIMEOUT_S = 30.0
QUEUE_SIZE = 10_000
DEFAULT = "tensorboard"  # train.trackers unset: this one, when its extra is installed


def tracker_entries(trackers: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """``train.trackers`` as validated (``[{"name": ..., **options}]``), or for None the
    default: tensorboard where it is installed, else none."""
    if isinstance(trackers, list):
        return trackers
    if trackers is not None:
        raise GenError(f"train.trackers: expected a list, got {trackers!r:.60}")
    return [{"name": DEFAULT}] if importlib.util.find_spec("tensorboard") else []


class Trackers:
    """Every tracker of a run. Each method returns at once (but `start`, bounded); what a
    tracker does with it happens in its thread."""

    def __init__(self, trackers: dict[str, Tracker]) -> None:
        self._workers = {name: _Worker(name, t) for name, t in trackers.items()}

    @classmethod
    def build(cls, entries: list[dict[str, Any]] | None) -> Trackers:
        """The trackers ``entries`` name (`tracker_entries`), built with their options. A
        tracker that cannot be imported or built is a `GenError` (the run has not started)."""
        registry = get_plugins().registry
        built = {}
        for raw in map(_entry, tracker_entries(entries)):
            name = raw.pop("name")
            info = registry.get_tracker(name)
            if info.missing():
                raise GenError(f"tracker {name!r} needs {', '.join(info.missing())}, which is "
                               f"not installed: {info.install or 'install it'}")
            options = tracker_options(info, raw)
            try:
                built[name] = info.tracker_class()(options)
            except GenError:
                raise
            except Exception as exc:
                raise GenError(f"tracker {name!r} could not be built: "
                               f"{type(exc).__name__}: {exc}") from exc
        return cls(built)

    def __bool__(self) -> bool:
        return bool(self._workers)

    def check(self, run_root: Path) -> None:
        """Each tracker's own check, before anything is written (`Tracker.check`)."""
        for worker in self._workers.values():
            worker.tracker.check(run_root)

    def start(self, run: Callable[[str], TrackedRun]) -> dict[str, Any]:
        """Start every tracker with ``run(name)`` (its own state from run.json); their new
        states by name, for run.json. A tracker that fails or takes longer than
        ``START_TIMEOUT_S`` is off for the run, with a warning."""
        futures = {name: w.call("start", run(name)) for name, w in self._workers.items()}
        states = {}
        deadline = time.monotonic() + START_TIMEOUT_S
        for name, future in futures.items():
            try:
                state = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self._workers[name].fail("start", f"no answer in {START_TIMEOUT_S:g} s")
                continue
            except Exception:  # the worker warned and turned the tracker off
                continue
            if state is not None:
                states[name] = state
        return states

    def log(self, step: int, record: dict[str, Any]) -> None:
        for worker in self._workers.values():
            worker.call("log", step, record)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        for worker in self._workers.values():
            worker.call("image", step, name, image)

    def finish(self, status: str | None) -> None:
        """Tell every tracker how the run ended and wait for them, ``FINISH_TIMEOUT_S`` in
        all; one still busy then is left behind with a warning (its thread dies with gen)."""
        futures = {name: w.call("finish", status) for name, w in self._workers.items()}
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        for name, future in futures.items():
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self._workers[name].fail(
                    "finish", f"still busy after {FINISH_TIMEOUT_S:g} s; gen went on without "
                    "it (metrics.jsonl has every record)")
            except Exception:
                pass
            self._workers[name].stop()


class _Worker:
    """One tracker's thread: calls run in order; the first exception turns it off."""

    def __init__(self, name: str, tracker: Tracker) -> None:
        self.name, self.tracker = name, tracker
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        self.off = self.dropping = False
        self.thread: threading.Thread | None = None  # started by the first call

    def call(self, method: str, *args: Any) -> Future:
        future: Future = Future()
        if self.thread is None and not self.off:
            self.thread = threading.Thread(target=self._run, name=f"gen-tracker-{self.name}",
                                           daemon=True)
            self.thread.start()
        if self.off:
            future.set_exception(GenError(f"tracker {self.name!r} is off"))
            return future
        try:
            self.queue.put_nowait((method, args, future))
        except queue.Full:
            if not self.dropping:
                self.dropping = True
                _warn(f"tracker {self.name!r} is {QUEUE_SIZE} calls behind; gen drops what it "
                      "cannot take until it catches up (metrics.jsonl has every record)")
            future.set_exception(GenError("dropped"))
        return future

    def fail(self, method: str, why: str) -> None:
        if not self.off:
            self.off = True
            _warn(f"tracker {self.name!r} failed in {method}: {why}; the run goes on without "
                  "it")

    def stop(self) -> None:
        self.off = True
        if self.thread is None:
            return
        with contextlib.suppress(queue.Full):  # a daemon thread: it ends with gen
            self.queue.put_nowait(None)

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            method, args, future = item
            if self.off:
                future.set_exception(GenError(f"tracker {self.name!r} is off"))
                continue
            try:
                future.set_result(getattr(self.tracker, method)(*args))
            except BaseException as exc:  # a tracker's SystemExit must not end gen either
                self.fail(method, f"{type(exc).__name__}: {exc}")
                future.set_exception(exc if isinstance(exc, Exception) else GenError(str(exc)))
            self.dropping = self.dropping and not self.queue.empty()


def _entry(entry: Any) -> dict[str, Any]:
    """A ``train.trackers`` entry as ``{"name": ..., **options}``; an entry of a spec.json
    edited by hand that is neither is a `GenError`."""
    if isinstance(entry, str):
        return {"name": entry}
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return dict(entry)
    raise GenError(f"train.trackers: expected tracker names or objects with a name, got "
                   f"{entry!r:.60}")


def _warn(message: str) -> None:
    warnings.warn(message, GenWarning, stacklevel=2)
