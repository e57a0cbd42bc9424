"""One writer per run: an OS lock on ``RUN/.lock`` held for as long as a run is trained.

The lock is the kernel's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), so it dies with
the process that holds it: a killed run never leaves a stale lock behind. The holder writes its
pid and host into the file, for the error the next writer sees. Readers (`gen sample`,
`gen evaluate`) never take it.

`check_free` tests the lock by taking it for an instant, so a writer starting at that instant
(rank 0 while the other ranks check the folder, under `gen train --nproc`) would read that
probe as a holder: both therefore retry for `PATIENCE` seconds before they call the lock held.
A real holder holds it for a whole training run; a probe for microseconds.

Hand-written rather than `filelock` (installed with torch): depending on its version filelock
truncates or unlinks the lock file, which would lose the holder's pid, and on file systems
without ``flock`` it falls back to a lock file that outlives a killed process.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from gen.errors import RunLockedError, WriteError

PATIENCE = 0.5  # seconds a busy lock is retried before it counts as held
# A .lock that is a symbolic link is not followed: the holder's pid would be written through it.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

if sys.platform == "win32":  # pragma: no cover - CI runs on Linux
    import msvcrt

    def _try_lock(fd: int) -> bool:
        # Lock one byte past the pid, so the next writer can still read who holds it.
        os.lseek(fd, 4096, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):  # EAGAIN; EACCES on some file systems
            return False
        return True


class RunLock:
    """Exclusive, non-blocking: `acquire` either takes the lock or raises `RunLockedError`
    naming the holder. Released by `release`, or by the process ending."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            # No O_TRUNC: until the lock is ours, the file holds the current holder's pid.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as exc:
            raise WriteError(self.path, exc) from None
        try:
            self._take(fd)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".ljust(256).encode())
        except BaseException:
            os.close(fd)  # releases the lock if it was taken
            raise
        self._fd = fd
        return self

    def check_free(self) -> None:
        """Raise `RunLockedError` if another process holds the lock; writes nothing (a
        missing lock file is a free lock)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise WriteError(self.path, exc) from None
        try:
            self._take(fd)
        finally:
            os.close(fd)

    def _take(self, fd: int) -> None:
        deadline = time.monotonic() + PATIENCE
        try:
            while not (locked := _try_lock(fd)) and time.monotonic() < deadline:
                time.sleep(0.01)
        except OSError as exc:  # ENOLCK, EOPNOTSUPP: a file system without locks
            raise WriteError(self.path, exc, hint="the file system of the run folder does not "
                             "support file locks; put the run on a local disk") from None
        if not locked:
            raise RunLockedError(
                f"{self.path.parent} is being trained by another gen process "
                f"({_read_holder(fd)}); wait for it to finish or stop it, or choose another --out"
            )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        pid, _, host = os.read(fd, 256).decode(errors="replace").strip().partition(" ")
    except OSError:
        return "pid unknown"
    if not pid:
        return "pid unknown"
    return f"pid {pid}" + (f" on {host}" if host and host != socket.gethostname() else "")
