"""Regularisers of the discriminator that any objective can take (``model.r1_gamma``,
``model.r2_gamma``, ``model.reg_every``, ``model.lecam_weight``). Their state (the lazy
regularisation's update count, LeCam's anchors) lives in buffers of modules the model keeps in
``self.modules``, so checkpoints carry it and a resumed run goes on bit-identically.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def squared_gradient_norm(
    score: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor
) -> torch.Tensor:
    """E||grad_x D(x)||^2 over ``points`` (Mescheder et al. 2018, eq. 9 without gamma/2): the
    gradient of each image's score with respect to that image, taken with ``create_graph=True``
    so the penalty is differentiable in D's weights. Computed in float32 (under autocast the
    squares of small fp16 gradients would underflow)."""
    points = points.detach().requires_grad_(True)
    scores = score(points)
    (grad,) = torch.autograd.grad(scores.float().sum(), points, create_graph=True)
    return grad.float().flatten(1).pow(2).sum(1).mean()


class ZeroCentredPenalty(nn.Module):
    """R1 and R2 (Mescheder et al. 2018): gamma/2 E||grad_x D(x)||^2 at real (R1) and generated
    (R2) images, with lazy regularisation (Karras et al. 2020, section 3.1): computed only on
    every ``every``-th discriminator update (the first, then every k-th) and multiplied by
    ``every`` there, so its expected weight per update is unchanged. The count of updates is a
    buffer (checkpointed); so are the last values, logged on every line as ``r1`` / ``r2``."""

    def __init__(self, r1_gamma: float, r2_gamma: float, every: int = 1):
        super().__init__()
        self.r1_gamma, self.r2_gamma, self.every = r1_gamma, r2_gamma, every
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("r1", torch.zeros(()))
        self.register_buffer("r2", torch.zeros(()))
        self._updates = 0  # a host copy of ``updates``: deciding needs no device sync

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._updates = int(self.updates)

    def penalty(self, score: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                fake: torch.Tensor) -> torch.Tensor | None:
        """The penalty to add to the discriminator's loss at this update, or None between lazy
        updates; counts the update either way."""
        due = self._updates % self.every == 0
        self._updates += 1
        self.updates.fill_(self._updates)
        if not due:
            return None
        total = torch.zeros((), device=real.device)
        for gamma, points, last in ((self.r1_gamma, real, self.r1),
                                    (self.r2_gamma, fake, self.r2)):
            if gamma > 0:
                value = squared_gradient_norm(score, points)
                last.copy_(value.detach())
                total = total + self.every * gamma / 2 * value
        return total

    def logs(self) -> dict[str, torch.Tensor]:
        out = {}
        if self.r1_gamma > 0:
            out["r1"] = self.r1.clone()
        if self.r2_gamma > 0:
            out["r2"] = self.r2.clone()
        return out


class LeCam(nn.Module):
    """LeCam regularisation (Tseng et al. 2021, eq. 3): anchors a_real, a_fake are exponential
    moving averages of D's mean output on real and on generated images; the penalty
    E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2] keeps D's outputs on real images from
    drifting above what it gives fakes on average, and the other way round (a bound on the LeCam
    divergence, robust with little data). As the authors' code: the anchors are updated with
    this batch first (the first update sets them), then the penalty uses them."""

    def __init__(self, decay: float = 0.99):
        super().__init__()
        self.decay = decay
        self.register_buffer("anchor_real", torch.zeros(()))
        self.register_buffer("anchor_fake", torch.zeros(()))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, real_scores: torch.Tensor, fake_scores: torch.Tensor,
               world=None) -> None:
        """a <- decay a + (1 - decay) mean(scores), or the mean itself at the first update;
        the means over every process's batch with ``world`` (a `gen.distributed.World`), so
        all processes keep the same anchors."""
        means = {"real": real_scores.detach().float().mean(),
                 "fake": fake_scores.detach().float().mean()}
        if world is not None:
            means = world.mean(means)
        decay = torch.where(self.updates > 0, self.decay, 0.0)
        self.anchor_real.copy_(decay * self.anchor_real + (1 - decay) * means["real"])
        self.anchor_fake.copy_(decay * self.anchor_fake + (1 - decay) * means["fake"])
        self.updates.add_(1)

    def penalty(self, real_scores: torch.Tensor, fake_scores: torch.Tensor,
                world=None) -> torch.Tensor:
        """Update the anchors with this batch (every process's, with ``world``), then the
        penalty against them."""
        self.update(real_scores, fake_scores, world)
        return lecam_penalty(real_scores, fake_scores, self.anchor_real, self.anchor_fake)


def lecam_penalty(real_scores: torch.Tensor, fake_scores: torch.Tensor,
                  anchor_real: torch.Tensor, anchor_fake: torch.Tensor) -> torch.Tensor:
    """Tseng et al. 2021, eq. 3: E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2]."""
    return (F.relu(real_scores.float() - anchor_fake).pow(2).mean()
            + F.relu(anchor_real - fake_scores.float()).pow(2).mean())
