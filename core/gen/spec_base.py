"""The base of every spec section, and pydantic's errors in gen's words. Nothing here imports
torch."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictSpec(BaseModel):
    """Base of every spec section: unknown fields are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def render_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """pydantic errors as (``model.optimizer.betas[0]``, ``message (got value)``) pairs."""
    problems = []
    for err in exc.errors(include_url=False):
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = err["msg"].removeprefix("Value error, ")  # our validators' own words
        if err["type"] != "missing":
            message += f" (got {short(err.get('input'))})"
        problems.append((path, message))
    return problems


def short(value: Any, limit: int = 60) -> str:
    """``value`` as JSON (else repr), cut to ``limit`` characters for a one-line message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
