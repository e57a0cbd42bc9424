"""Checks of the Python API's arguments, so a value of the wrong type or size is a
`UsageError` naming the argument (what `gen.GenError` promises a caller) rather than a
TypeError from deep inside torch, a silent truncation (``n=4.7``) or a bool taken for a
number (``n=True``). The command line's options reach the same checks through the API."""

from __future__ import annotations

import operator
from typing import Any

from gen.errors import UsageError
from gen.spec_base import short

# torch.Generator.manual_seed takes up to 2**64 - 1; a seed plus a small offset stays below.
MAX_SEED = 2**63 - 1


def whole(value: Any, name: str, minimum: int = 1, maximum: int | None = None,
          why: str = "") -> int:
    """``value`` as an int (numpy's and torch's integer scalars too) from ``minimum`` to
    ``maximum``; ``why`` follows the bounds in the message."""
    bounds = f"of at least {minimum}" if maximum is None else f"from {minimum} to {maximum:,}"
    bounds += f" {why}" if why else ""
    try:  # what Python takes as an index: int, numpy's and torch's integer scalars
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None:
        raise UsageError(f"{name}: expected a whole number {bounds}, got {short(value)}")
    if number < minimum or (maximum is not None and number > maximum):
        raise UsageError(f"{name}: expected a whole number {bounds}, got {short(number)}")
    return number


def optional_whole(value: Any, name: str, minimum: int = 1,
                   maximum: int | None = None) -> int | None:
    return None if value is None else whole(value, name, minimum, maximum)


def seed(value: Any, name: str = "seed") -> int:
    return whole(value, name, 0, MAX_SEED)


def text(value: Any, name: str, expected: str = "a name") -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{name}: expected {expected}, got {short(value)}")
    return value


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name}: expected True or False, got {short(value)}")
    return value
