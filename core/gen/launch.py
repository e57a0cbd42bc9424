"""Where this process stands in a torchrun launch, read from the environment torchrun sets.

Kept free of torch so the CLI can ask before anything heavy is imported.
"""

from __future__ import annotations

import os


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
