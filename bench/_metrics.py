"""What the benchmarks read from a run: its metrics.jsonl, checked whole before any figure is
taken from it (an underscore: `nox -s bench` runs the scripts beside it, not this)."""

from __future__ import annotations

import json
import math
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
