"""Adaptive discriminator augmentation: Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020,
"Training Generative Adversarial Networks with Limited Data" (``model.ada_target``).

Every image the discriminator sees, real or fake, in either player's update, goes through each
augmentation operation with probability p, independently per image and per operation; the
operations are DiffAugment's (`gen_gan.diffaugment`: brightness, saturation, contrast,
translation, cutout), differentiable, so the generator learns through them. p starts at 0 and
follows the overfitting heuristic of section 3.1, r_t = E[sign(D_train)], here over the real
images of the last ``interval`` discriminator updates, measured from the objective's decision
boundary: every ``interval`` updates p moves by sign(r_t - target) * N / (kimg * 1000), N the
real images seen in that interval (batch * interval), so p can cross [0, 1] in ``kimg``
thousand images, and is clamped to [0, 1]. All of it is tensor arithmetic on the device (no host
sync); p, the running sum of signs and the counts are buffers, checkpointed.
"""

from __future__ import annotations

import torch
from torch import nn

from gen_gan import diffaugment as ops

OPERATIONS = (ops.brightness, ops.saturation, ops.contrast, ops.translation, ops.cutout)


class AdaptiveAugment(nn.Module):
    def __init__(self, target: float, interval: int = 4, kimg: float = 500.0,
                 boundary: float = 0.0):
        super().__init__()
        self.target, self.interval, self.kimg, self.boundary = target, interval, kimg, boundary
        self.register_buffer("p", torch.zeros(()))
        self.register_buffer("signs", torch.zeros(()))  # sum of sign(D(x)) this interval
        self.register_buffer("seen", torch.zeros(()))  # real images this interval
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """Each operation applied to each image with probability p (draws from the training RNG
        whatever p, so the random stream does not depend on it)."""
        x = images
        for op in OPERATIONS:
            chosen = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < self.p
            x = torch.where(chosen, op(x), x)
        return x

    @torch.no_grad()
    def observe(self, real_scores: torch.Tensor, world=None) -> None:
        """Accumulate sign(D(x) - boundary) over the real images of one discriminator update
        (of every process, with ``world``: a `gen.distributed.World`, so all processes move p
        alike, as StyleGAN2-ADA sums its statistic over GPUs); at the end of every
        ``interval`` updates adjust p and start a new interval."""
        scores = real_scores.detach().float().flatten()
        signs = torch.sign(scores - self.boundary).sum()
        seen = torch.tensor(float(scores.numel()), device=scores.device)
        if world is not None:
            total = world.mean({"signs": signs, "seen": seen})
            signs, seen = total["signs"] * world.size, total["seen"] * world.size
        self.signs.add_(signs)
        self.seen.add_(seen)
        self.updates.add_(1)
        due = (self.updates % self.interval) == 0
        r_t = self.signs / self.seen.clamp(min=1)
        step = torch.sign(r_t - self.target) * self.seen / (self.kimg * 1000)
        self.p.copy_(torch.where(due, (self.p + step).clamp(0.0, 1.0), self.p))
        self.signs.copy_(torch.where(due, torch.zeros_like(self.signs), self.signs))
        self.seen.copy_(torch.where(due, torch.zeros_like(self.seen), self.seen))
