"""What this machine has free, so a request that cannot fit is refused before anything is
allocated (with the largest that would fit) instead of ending in an allocator's traceback or
the out-of-memory killer."""

from __future__ import annotations

import os

from gen.errors import UsageError


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: MemAvailable), None where it cannot be told."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def refuse_beyond_memory(count: int, per_item: int, name: str, what: str, instead: str) -> None:
    """A `UsageError` naming ``name`` when ``count`` items of ``per_item`` bytes would not fit
    in the memory available now; ``instead`` says what to do."""
    free = available_memory()
    if free is not None and count * per_item > free:
        raise UsageError(f"{name}={count:,}: {what} would take {count * per_item / 2**30:,.1f} "
                         f"GiB, more than the {free / 2**30:.1f} GiB of memory available; at "
                         f"most {max(free // max(per_item, 1), 0):,} fit. {instead}")
