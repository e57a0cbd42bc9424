"""Learning-rate schedules (``train.lr_schedule``, ``train.lr_schedules``), one per optimizer.

Each is torch's own `torch.optim.lr_scheduler.LambdaLR` over a factor of the optimizer's lr, so
its state (the step it is at) goes into checkpoints as torch saves it, and a resumed run takes
the same rates as an uninterrupted one. The factor is a closure, not an object, so LambdaLR
saves none of it: a resumed run recomputes it from its spec.

The schedules step once per training step (a GAN's n_critic critic updates share one rate).
The k-th step (k = 1, 2, ...) runs at ``lr * factor(k - 1)``:

- warm-up: ``factor(s) = (s + 1) / warmup_steps`` for the first ``warmup_steps`` steps, so the
  first step is not wasted at rate 0 and step ``warmup_steps`` runs at the full rate;
- then, with ``p`` the fraction of the decay done (``(s + 1 - warmup) / (total - warmup)``,
  at most 1), constant 1, linear ``final + (1 - final) * (1 - p)``, or cosine
  ``final + (1 - final) * (1 + cos(pi * p)) / 2`` (Loshchilov and Hutter 2017 without
  restarts), reaching ``final`` at step ``total`` (``train.steps`` unless given).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

from gen.errors import SpecError
from gen.specs import LRScheduleSpec, TrainSpec


def factor(schedule: LRScheduleSpec, train_steps: int) -> Callable[[int], float]:
    """The multiplier of the optimizer's lr after ``s`` scheduler steps (see the module)."""
    warmup = schedule.warmup_steps
    total = schedule.total_steps or train_steps
    final = schedule.final

    def at(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        if schedule.name == "constant":
            return 1.0
        p = min(1.0, (s + 1 - warmup) / max(1, total - warmup))
        if schedule.name == "linear":
            return final + (1 - final) * (1 - p)
        return final + (1 - final) * (1 + math.cos(math.pi * p)) / 2

    return at


class Schedules:
    """The schedulers of one model's optimizers; optimizers whose schedule is trivial
    (constant, no warm-up) get none, so runs without schedules are as they were."""

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer], train: TrainSpec):
        unknown = sorted(set(train.lr_schedules) - set(optimizers))
        if unknown:
            raise SpecError([(f"train.lr_schedules.{name}", "this model has no optimizer of "
                              f"that name; its optimizers: {', '.join(optimizers)}")
                             for name in unknown])
        self.optimizers = dict(optimizers)
        self.schedulers: dict[str, LambdaLR] = {}
        for name, optimizer in optimizers.items():
            schedule = train.lr_schedules.get(name, train.lr_schedule)
            if not schedule.trivial:
                self.schedulers[name] = LambdaLR(optimizer, factor(schedule, train.steps))

    def step(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def rates(self) -> dict[str, float]:
        """``lr/<optimizer>``: the rate of each optimizer's first parameter group now."""
        return {f"lr/{name}": float(opt.param_groups[0]["lr"])
                for name, opt in self.optimizers.items()}

    def state_dict(self) -> dict[str, Any]:
        return {name: s.state_dict() for name, s in self.schedulers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Raises KeyError when the checkpoint's schedulers are not this spec's."""
        if set(state) != set(self.schedulers):
            raise KeyError(f"the checkpoint schedules {sorted(state) or 'no optimizer'}, the "
                           f"spec {sorted(self.schedulers) or 'none'}")
        for name, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state[name])
