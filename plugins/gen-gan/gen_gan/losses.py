"""Adversarial losses, each written as the quantity to *minimise*, on raw network outputs
(logits or critic scores: no sigmoid anywhere in the networks). Batch means throughout."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Goodfellow et al. 2014, eq. 1 for D: -log D(x) - log(1 - D(G(z))), batch means."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Goodfellow et al. 2014, section 3: G maximises log D(G(z)) instead of minimising
    log(1 - D(G(z))), which saturates early in training. I.e. -log sigmoid(logits)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def least_squares_discriminator_loss(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, a: float = 0.0, b: float = 1.0
) -> torch.Tensor:
    """Mao et al. 2017, eq. 2 for D: 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]."""
    return 0.5 * ((real_scores - b) ** 2).mean() + 0.5 * ((fake_scores - a) ** 2).mean()


def least_squares_generator_loss(fake_scores: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """Mao et al. 2017, eq. 2 for G: 1/2 E[(D(G(z)) - c)^2]."""
    return 0.5 * ((fake_scores - c) ** 2).mean()


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor
                             ) -> torch.Tensor:
    """Lim & Ye 2017, eq. 8; Miyato et al. 2018, eq. 16: E[relu(1 - D(x))] + E[relu(1 +
    D(G(z)))]. Only images inside the margin (real scored below 1, fake above -1) give D a
    gradient."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Lim & Ye 2017, eq. 9; Miyato et al. 2018, eq. 17: G minimises -E[D(G(z))]."""
    return -fake_logits.mean()


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Arjovsky et al. 2017, eq. 3 / Algorithm 1 line 5, negated for a minimiser:
    E[f(G(z))] - E[f(x)]. Its negative is the critic's estimate of W(P_r, P_g)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Arjovsky et al. 2017, Algorithm 1 line 10: G minimises -E[f(G(z))]."""
    return -fake_scores.mean()


def interpolate(
    real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gulrajani et al. 2017, Algorithm 1 lines 4 and 6: x_hat = eps x + (1 - eps) x_tilde with
    ONE eps ~ U[0, 1] per sample (shape (N, 1, 1, 1)), not per pixel. Returns (x_hat, eps)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    return eps * real + (1 - eps) * fake, eps


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor
) -> torch.Tensor:
    """Gulrajani et al. 2017, eq. 3: E[(||grad_x D(x_hat)||_2 - 1)^2] at ``points`` (x_hat).

    The gradient is taken with ``create_graph=True`` so the penalty itself is differentiable
    with respect to the critic's weights."""
    points = points.detach().requires_grad_(True)
    scores = critic(points)
    (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def decision_accuracy(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, threshold: float | torch.Tensor = 0.0
) -> dict[str, torch.Tensor]:
    """The discriminator's accuracy as a classifier, detached, for the training-health log:
    ``d_acc_real`` the share of real images scored above ``threshold``, ``d_acc_fake`` the
    share of fakes at or below it. Near 1 for both, for many steps, is a discriminator that
    has won (docs/health.md)."""
    real, fake = real_scores.detach(), fake_scores.detach()
    return {"d_acc_real": (real > threshold).float().mean(),
            "d_acc_fake": (fake <= threshold).float().mean()}


def auxiliary_classifier_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Odena et al. 2017, eq. 3 negated: -E[log P(C = c | X)], i.e. cross-entropy on raw
    class logits (N, num_classes) against int64 labels (N,)."""
    return F.cross_entropy(class_logits, labels)
