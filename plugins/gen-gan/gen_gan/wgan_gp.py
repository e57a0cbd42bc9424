"""WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs".

Weight clipping biases the critic towards overly simple functions and makes gradients explode
or vanish (section 3); WGAN-GP instead penalises the critic's gradient norm on random
interpolates between real and fake images (eq. 3):

    L = E[D(x_tilde)] - E[D(x)] + lambda E[(||grad D(x_hat)||_2 - 1)^2],
    x_hat = eps x + (1 - eps) x_tilde,  eps ~ U[0, 1] drawn once per sample.

Algorithm 1: lambda = 10, n_critic = 5, Adam(lr 1e-4, betas (0, 0.9)), no clipping. The penalty
is per image, so the critic has no batch norm (`WGANGPSpec` refuses it): layer norm (section 4's
recommendation, the default on the dcgan backbone) or none (the default on mlp and resnet).
"""

from __future__ import annotations

import torch

from gen_gan import losses
from gen_gan.base import Logs
from gen_gan.wgan import WGAN


class WGANGP(WGAN):
    # The penalty differentiates through the critic twice, which torch.compile's autograd
    # does not support (measured on torch 2.11): the critic stays eager.
    eager_modules = frozenset({"discriminator"})

    def critic_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, Logs]:
        # With model.diffaugment, `real` and `fake` arrive already augmented (TwoPlayerGAN.
        # train_step), so the interpolates lie between augmented images and the penalty holds
        # the critic itself to gradient norm 1 on the distributions it compares, T(x) and
        # T(G(z)); no third augmentation is drawn, and the gradient is w.r.t. the critic's
        # input, not taken through the augmentation.
        points, _ = losses.interpolate(real, fake)
        penalty = losses.gradient_penalty(lambda x: self.scores(x, labels)[0], points)
        return self.spec.gp_weight * penalty, {"gradient_penalty": penalty.detach()}

    def after_critic_step(self) -> None:
        """No clipping: the penalty replaces it."""
