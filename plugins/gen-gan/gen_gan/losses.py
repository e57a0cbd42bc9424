"""Adversarial losses on raw discriminator logits (numerically stable BCE-with-logits)."""

from __future__ import annotations

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
