"""WGAN: Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN".

The critic f_w (the backbone's discriminator, dcgan by default, with no sigmoid: its raw
score) estimates the Earth-Mover distance through the Kantorovich-Rubinstein duality (eq. 2);
maximising E[f_w(x)] - E[f_w(G(z))] over weights clipped to a box keeps f_w K-Lipschitz (eq. 3).
Algorithm 1: n_critic = 5 critic updates per generator update, each on a fresh batch, every
weight clipped to [-c, c] after each critic update, RMSProp with lr 5e-5 (the paper found
momentum-based optimizers such as Adam unstable for the critic). The logged ``wasserstein`` is
the critic's estimate mean f(x) - mean f(G(z)), whose decrease tracks sample quality
(section 4.2).
"""

from __future__ import annotations

import torch

from gen_gan import losses
from gen_gan.base import Logs, TwoPlayerGAN


class WGAN(TwoPlayerGAN):
    def decision_boundary(self) -> None:
        """A critic's scores have no fixed boundary (ADA is refused for it)."""
        return None

    def adversarial_d_loss(
        self, real_scores: torch.Tensor, fake_scores: torch.Tensor
    ) -> tuple[torch.Tensor, Logs]:
        loss = losses.wasserstein_critic_loss(real_scores, fake_scores)
        # A critic score has no fixed boundary: accuracy is read at the midpoint of the two
        # batch means, i.e. how well the scores separate real from fake.
        midpoint = (real_scores.detach().mean() + fake_scores.detach().mean()) / 2
        return loss, {"wasserstein": -loss.detach(),
                      **losses.decision_accuracy(real_scores, fake_scores, midpoint)}

    def adversarial_g_loss(self, fake_scores: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        return losses.wasserstein_generator_loss(fake_scores), {}

    def after_critic_step(self) -> None:
        """Algorithm 1, line 7: w <- clip(w, -c, c), for every parameter of the critic."""
        clip_weights(self.discriminator, self.spec.clip)


@torch.no_grad()
def clip_weights(module: torch.nn.Module, clip: float) -> None:
    for p in module.parameters():
        p.clamp_(-clip, clip)
