"""The base of every spec section. Nothing here imports torch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictSpec(BaseModel):
    """Base of every spec section: unknown fields are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid")
