"""What the benchmarks share: a run's metrics.jsonl, checked whole before any figure is taken
from it, and the environment of the runs they time (an underscore: `nox -s bench` runs the
scripts beside it, not this)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path


def checked_records(metrics: Path, steps: int, log_every: int) -> list[dict]:
    """The log lines of a run of ``steps`` logged every ``log_every``; exits naming the file
    when a line is missing or a loss is not finite (a figure from a broken run is no figure)."""
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    expected = math.ceil(steps / log_every)
    if len(records) != expected or records[-1]["step"] != steps:
        sys.exit(f"{metrics}: expected {expected} log lines ending at step {steps}")
    for r in records:
        bad = [k for k, v in r.items() if k.endswith("loss") and not math.isfinite(v)]
        if bad:
            sys.exit(f"{metrics}: non-finite {bad} at step {r['step']}")
    return records


def child_env(threads: int | None) -> dict[str, str]:
    """The same environment for every timed run; with ``threads``, pin the intra-op pools."""
    env = dict(os.environ)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return env
