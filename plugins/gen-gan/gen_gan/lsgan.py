"""LSGAN: Mao et al. 2017, "Least Squares Generative Adversarial Networks".

The sigmoid cross-entropy of a regular GAN gives almost no gradient for fakes that are on the
right side of the decision boundary but far from the data; a least-squares loss on the
discriminator's raw output penalises them by their distance (Figure 1 and the benefits argued
in section 3). Loss: eq. 2,

    D minimises 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2],   G minimises 1/2 E[(D(G(z)) - c)^2],

with the 0-1 coding (a, b, c) = (0, 1, 1) of eq. 10 by default, or e.g. (-1, 1, 0) of eq. 9 (which
minimises the Pearson chi-squared divergence). Networks: ``model.backbone``, dcgan by default.
"""

from __future__ import annotations

import torch

from gen_gan import losses
from gen_gan.base import Logs, TwoPlayerGAN


class LSGAN(TwoPlayerGAN):
    def decision_boundary(self) -> float:
        """Halfway between the fake and real targets a and b."""
        return (self.spec.a + self.spec.b) / 2

    def adversarial_d_loss(
        self, real_scores: torch.Tensor, fake_scores: torch.Tensor
    ) -> tuple[torch.Tensor, Logs]:
        loss = losses.least_squares_discriminator_loss(
            real_scores, fake_scores, self.spec.a, self.spec.b
        )
        accuracy = losses.decision_accuracy(real_scores, fake_scores, self.decision_boundary())
        return loss, {"d_real": real_scores.detach().mean(), "d_fake": fake_scores.detach().mean(),
                      **accuracy}

    def adversarial_g_loss(self, fake_scores: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        return losses.least_squares_generator_loss(fake_scores, self.spec.c), {}
