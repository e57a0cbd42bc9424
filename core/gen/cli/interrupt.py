"""SIGTERM ends a command that writes files as Ctrl-C does.

Python's default for SIGTERM ends the process at once, leaving the temporary file of a write in
flight (`gen.fileio.atomic_write`: ``.x.tmp-PID.npz``, gigabytes for a large ``gen sample``).
Raised as `KeyboardInterrupt` instead, the write removes it and the command exits 130 with
``error: interrupted``, as docs/robustness.md promises for both signals.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within it (or around a command it decorates), SIGTERM raises `KeyboardInterrupt`. Only
    the main thread can set a signal handler; elsewhere it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
