"""An exponential moving average of the weights a model samples with (``train.ema``).

Averaging the iterates gives better samples at no training cost: GANs (Yazici et al. 2019,
"The Unusual Effectiveness of Averaging in GAN Training"; Karras et al. 2018, decay 0.999) and
diffusion models (Ho et al. 2020, decay 0.9999) alike. The average is kept here, outside the
model's ``modules``, so no family has to know about it: the trainer updates it after every step,
and sampling and evaluation swap it into the live modules for their duration (`applied`), as
diffusers' ``EMAModel.store`` / ``copy_to`` / ``restore`` do. A `Run` opened to sample or score
copies it in for good (`Model.use_average`).

The decay warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=...)`` does:
``decay_t = min(decay, (1 + t) / (10 + t))`` at the update with t earlier updates, so the
average forgets the random initial weights within a few hundred steps instead of keeping 37% of
them at step 1,000 (0.999 ** 1000). Until ``start`` the average follows the live weights. The
update count is saved with the average, so a resumed run continues the same schedule.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


def warmed_decay(decay: float, updates: torch.Tensor, warmup: bool = True) -> torch.Tensor:
    """The decay of the update after ``updates`` earlier ones: min(decay, (1 + t) / (10 + t))
    with ``warmup``, else ``decay``. A tensor, so reading the count never synchronises an
    accelerator."""
    t = updates.to(torch.float32)
    if not warmup:
        return torch.full_like(t, decay)
    return torch.clamp((1 + t) / (10 + t), max=decay)


class WeightAverage:
    """The average of ``modules`` (name -> live module): parameters and floating-point buffers
    (batch-norm statistics describe the live weights' activations; their average tracks the
    averaged weights as closely as the weights' average does); integer buffers are copied."""

    def __init__(self, modules: Mapping[str, nn.Module], decay: float = 0.999,
                 warmup: bool = True, start: int = 0):
        self.live = dict(modules)
        self.decay, self.warmup, self.start = decay, warmup, start
        self.average = {name: copy.deepcopy(m).requires_grad_(False)
                        for name, m in self.live.items()}
        first = next(iter(self.live.values()))
        device = next(iter(first.state_dict().values())).device
        self.updates = torch.zeros((), dtype=torch.long, device=device)

    @torch.no_grad()
    def update(self, step: int) -> None:
        """After optimisation step ``step``: average <- d * average + (1 - d) * live, or the
        live weights themselves up to ``start``."""
        if step <= self.start:
            for name, live in self.live.items():
                _copy(self.average[name], live)
            return
        d = warmed_decay(self.decay, self.updates, self.warmup)
        for name, live in self.live.items():
            average = self.average[name]
            for avg, new in zip(average.parameters(), live.parameters(), strict=True):
                avg.lerp_(new, (1 - d).to(avg.dtype))
            buffers = dict(average.named_buffers())
            for key, new in live.named_buffers():
                avg = buffers[key]
                if avg.is_floating_point():
                    avg.lerp_(new, (1 - d).to(avg.dtype))
                else:
                    avg.copy_(new)
        self.updates.add_(1)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The live modules hold the average for the duration (sampling, evaluation), and
        their own weights again afterwards, bit for bit."""
        kept = {name: copy.deepcopy(m.state_dict()) for name, m in self.live.items()}
        self.copy_to_live()
        try:
            yield
        finally:
            with torch.no_grad():
                for name, live in self.live.items():
                    live.load_state_dict(kept[name])

    @torch.no_grad()
    def copy_to_live(self) -> None:
        for name, live in self.live.items():
            _copy(live, self.average[name])

    def to(self, device: torch.device) -> WeightAverage:
        for module in self.average.values():
            module.to(device)
        self.updates = self.updates.to(device)
        return self

    def state_dict(self) -> dict[str, Any]:
        return {"modules": {k: m.state_dict() for k, m in self.average.items()},
                "updates": self.updates.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Raises KeyError/RuntimeError when ``state`` averages other modules."""
        if set(state["modules"]) != set(self.average):
            raise KeyError(f"the checkpoint averages {sorted(state['modules'])}, the model "
                           f"samples with {sorted(self.average)}")
        for name, module in self.average.items():
            module.load_state_dict(state["modules"][name])
        self.updates.copy_(torch.as_tensor(state["updates"]))


@torch.no_grad()
def _copy(target: nn.Module, source: nn.Module) -> None:
    for t, s in zip(target.state_dict().values(), source.state_dict().values(), strict=True):
        t.copy_(s)
