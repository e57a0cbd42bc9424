"""Shapes of values read from a run's files: metrics.jsonl holds lines from the trainer, from
`gen evaluate` and from whatever else appends to it, so every value is checked before use."""

from __future__ import annotations

import json
import math
from typing import Any


def is_number(value: Any) -> bool:
    """An int or float that converts to a float (JSON allows integers of any size)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None."""
    return float(value) if is_number(value) and math.isfinite(value) else None


def integer(value: Any) -> int | None:
    return value if is_int(value) else None


def text(value: Any) -> str | None:
    """``value`` as text: a string as it is, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def fmt(value: float) -> str:
    """Four significant digits, thousands separated: ``1,751``, ``0.8918``, ``158.2``."""
    if is_number(value) and 1e4 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4g}" if is_number(value) else str(value)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
