"""Hinge GAN: Lim & Ye 2017, "Geometric GAN", and Miyato et al. 2018, "Spectral Normalization
for Generative Adversarial Networks" (eqs. 16 and 17), the loss of SNGAN, SAGAN and BigGAN.

    D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))],   G minimises -E[D(G(z))].

The discriminator is a soft-margin SVM on its features: images already beyond the margin (real
scored above 1, fake below -1) give it no gradient, so it stops pushing scores it has already
separated, while the generator's loss is linear in D's score and never saturates. D's output is
a raw logit with its decision boundary at 0. Networks: ``model.backbone``, dcgan by default;
SNGAN is ``model.backbone=resnet`` with ``model.spectral_norm=true``.
"""

from __future__ import annotations

import torch

from gen_gan import losses
from gen_gan.base import Logs, TwoPlayerGAN


class Hinge(TwoPlayerGAN):
    def adversarial_d_loss(
        self, real_scores: torch.Tensor, fake_scores: torch.Tensor
    ) -> tuple[torch.Tensor, Logs]:
        return losses.hinge_discriminator_loss(real_scores, fake_scores), {
            "d_real": real_scores.detach().mean(),
            "d_fake": fake_scores.detach().mean(),
            **losses.decision_accuracy(real_scores, fake_scores),  # the boundary: logit 0
        }

    def adversarial_g_loss(self, fake_scores: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        return losses.hinge_generator_loss(fake_scores), {}
