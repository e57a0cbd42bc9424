"""The alternating two-player step shared by the GAN variants: one discriminator update, then
one generator update, on the same batch of fakes (Goodfellow et al. 2014, Algorithm 1, k = 1).
Variants change the losses, not the step."""

from __future__ import annotations

import torch
from torch import nn

import gen
from gen_gan import losses


class TwoPlayerGAN(gen.AdversarialModel):
    def __init__(self, spec, data: gen.DataInfo, generator: nn.Module, discriminator: nn.Module):
        super().__init__(spec, data, generator, discriminator)
        self.optimizers = {
            "generator": spec.optimizer.build(generator.parameters()),
            "discriminator": spec.optimizer.build(discriminator.parameters()),
        }

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return losses.discriminator_loss(real, fake)

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return losses.generator_loss_nonsaturating(fake)

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        images, labels = next_batch()
        fake = self.generator(self.latent(images.shape[0]), labels)
        opt_g, opt_d = self.optimizers["generator"], self.optimizers["discriminator"]

        real_logits = self.discriminator(images, labels)
        fake_logits = self.discriminator(fake.detach(), labels)
        d_loss = self.discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        g_loss = self.generator_loss(self.discriminator(fake, labels))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
        }
