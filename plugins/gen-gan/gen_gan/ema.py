"""An exponential moving average of the generator's weights, sampled from instead of the live
generator: averaging the iterates smooths the oscillation of adversarial training and gives
better samples at no training cost (Yazici et al. 2019, "The Unusual Effectiveness of Averaging
in GAN Training"; Karras et al. 2018 use decay 0.999).

The decay warms up as in TensorFlow's ``ExponentialMovingAverage(num_updates=...)``:
``decay_t = min(decay, (1 + t) / (10 + t))`` at the update with t earlier updates, so the average
forgets the random initial weights within a few hundred steps instead of keeping 37% of them at
step 1,000 (0.999 ** 1000). The count t is a buffer of the averaged module, so it is saved in
checkpoints with the average and a resumed run continues the same schedule.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

COUNT = "ema_updates"  # the buffer of the averaged module that counts its updates


def averaged_copy(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` to hold the average; it starts equal to the live weights,
    with an update count of zero."""
    average = copy.deepcopy(module).requires_grad_(False)
    device = next(module.parameters()).device
    average.register_buffer(COUNT, torch.zeros((), dtype=torch.long, device=device))
    average.register_load_state_dict_pre_hook(_count_of_an_older_checkpoint)
    return average


def _count_of_an_older_checkpoint(module, state_dict, prefix, *args) -> None:
    """Checkpoints from before the warm-up have no count: give them one past the warm-up, so
    they load, and the average goes on with the plain decay it was made with."""
    state_dict.setdefault(prefix + COUNT, torch.tensor(10**9, dtype=torch.long))


def warmed_decay(decay: float | torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
    """The decay of the update after ``updates`` earlier ones: min(decay, (1 + t) / (10 + t)).
    A tensor, so reading the count never synchronises an accelerator."""
    t = updates.to(torch.float32)
    return torch.clamp((1 + t) / (10 + t), max=decay)


@torch.no_grad()
def update(average: nn.Module, live: nn.Module, decay: float) -> None:
    """average <- d * average + (1 - d) * live with the warmed-up decay d, for every parameter and
    every floating-point buffer; integer buffers (batch-norm's num_batches_tracked) are copied.

    Batch-norm running statistics are averaged by the same rule rather than copied: the live
    network's statistics describe the live weights' activations, not the average's, and their
    average tracks the averaged weights as closely as the weights' average does. Recomputing them
    with forward passes of the average over real batches would be exact but would cost a pass per
    step and draw batches from the training stream, changing the run."""
    counter = getattr(average, COUNT)
    d = warmed_decay(decay, counter)
    for avg, new in zip(average.parameters(), live.parameters(), strict=True):
        avg.lerp_(new, 1 - d)
    buffers = dict(average.named_buffers())
    for name, new in live.named_buffers():
        avg = buffers[name]
        if avg.is_floating_point():
            avg.lerp_(new, (1 - d).to(avg.dtype))
        else:
            avg.copy_(new)
    counter.add_(1)
