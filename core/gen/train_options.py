"""The nested options of a spec's ``train`` section that every family gets from the core: the
weight average (``train.ema``, `gen.ema`) and learning-rate schedules (``train.lr_schedule``,
`gen.training.schedules`). Pydantic only: nothing here imports torch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gen.spec_base import StrictSpec


class EMASpec(StrictSpec):
    """An exponential moving average of the weights a model samples with (`gen.ema`):
    sample grids, `gen sample` and evaluations use the average."""

    decay: float = Field(0.999, gt=0, lt=1, description="the average's decay per step (e.g. "
                         "0.999; DDPM used 0.9999)")
    warmup: bool = Field(
        True, description="warm the decay up as TensorFlow's ExponentialMovingAverage does, "
        "min(decay, (1 + t) / (10 + t)) after t updates, so the average forgets the random "
        "initial weights within a few hundred steps")
    start: int = Field(0, ge=0, description="the step after which averaging starts; until then "
                       "the average follows the live weights")


class LRScheduleSpec(StrictSpec):
    """A learning-rate schedule (`gen.training.schedules`): a linear warm-up from 0, then the
    rate held (constant), or decayed linearly or along a half cosine to ``final`` times the
    optimizer's lr at the last step."""

    name: Literal["constant", "linear", "cosine"] = Field(
        "constant", description="after the warm-up: constant, linear decay or cosine decay")
    warmup_steps: int = Field(0, ge=0, description="steps of linear warm-up from 0 to the "
                              "optimizer's lr")
    final: float = Field(0.0, ge=0, le=1, description="linear and cosine: the rate at the last "
                         "step, as a fraction of the optimizer's lr")
    total_steps: int | None = Field(
        None, gt=0, description="linear and cosine: the step the decay ends at (default "
        "train.steps when the run starts, written into spec.json, so extending the run with "
        "--resume keeps the decay's course; past it the rate stays at final)")

    @property
    def trivial(self) -> bool:
        """Whether the schedule leaves every rate as the optimizer set it."""
        return self.name == "constant" and self.warmup_steps == 0
