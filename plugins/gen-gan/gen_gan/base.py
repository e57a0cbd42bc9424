"""The alternating two-player step shared by every model of the family.

One `train_step` is one iteration of the papers' Algorithm 1 (Goodfellow et al. 2014 with
k = n_critic; Arjovsky et al. 2017; Gulrajani et al. 2017): ``n_critic`` discriminator (critic)
updates, each on its own batch of real images and fresh fakes, then one generator update. With
n_critic > 1 the generator update draws a fresh batch of latents, as the WGAN algorithms do; with
n_critic = 1 it reuses the fakes the discriminator just saw (as DCGAN's reference code does),
which saves a generator forward pass per step. Variants change the losses, not the step: they
override `critic_loss`, `generator_loss` and, for weight clipping, `after_critic_step`. The
networks come from ``model.backbone`` (`gen_gan.backbones`), whatever the objective; conditional
variants override `build_generator` / `build_discriminator` to add the label.

Conditional models draw the labels of their fakes from the real batch (c ~ p_data(c)).

With ``model.diffaugment`` (Zhao et al. 2020, `gen_gan.diffaugment`), `train_step` passes real
and fake images through the same augmentation policies, with fresh draws for each batch, before
every `critic_loss` and `generator_loss`: the discriminator never sees an image that was not
augmented, in either player's update, and the generator's gradient flows back through the
augmentation. Labels are unchanged. Off (an empty list), nothing is added and no random number
is drawn.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

import gen
from gen_gan import backbones, losses
from gen_gan.diffaugment import diffaugment
from gen_gan.specs import AdversarialSpec

Logs = dict[str, torch.Tensor]


class TwoPlayerGAN(gen.AdversarialModel):
    def __init__(self, spec: AdversarialSpec, data: gen.DataInfo):
        generator = self.build_generator(spec, data)
        discriminator = self.build_discriminator(spec, data)
        super().__init__(spec, data, generator, discriminator)
        self.n_critic: int = getattr(spec, "n_critic", 1)
        self.diffaugment: tuple[str, ...] = tuple(getattr(spec, "diffaugment", ()))
        self.optimizers = {
            "generator": spec.optimizer.build(generator.parameters()),
            "discriminator": spec.optimizer.build(discriminator.parameters()),
        }

    def build_generator(self, spec: AdversarialSpec, data: gen.DataInfo) -> nn.Module:
        return backbones.build_generator(spec, data)

    def build_discriminator(self, spec: AdversarialSpec, data: gen.DataInfo) -> nn.Module:
        return backbones.build_discriminator(spec, data)

    def critic_loss(
        self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, Logs]:
        """The discriminator's loss to minimise and detached values to log, on images as the
        discriminator sees them (augmented, with model.diffaugment). Default: eq. 1 of
        Goodfellow et al. 2014."""
        real_logits = self.discriminator(real, labels)
        fake_logits = self.discriminator(fake, labels)
        return losses.discriminator_loss(real_logits, fake_logits), {
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
            **losses.decision_accuracy(real_logits, fake_logits),  # logit 0: D = 1/2
        }

    def generator_loss(
        self, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, Logs]:
        """The generator's loss to minimise and detached values to log. Default: the
        non-saturating loss of Goodfellow et al. 2014, section 3."""
        return losses.generator_loss_nonsaturating(self.discriminator(fake, labels)), {}

    def after_critic_step(self) -> None:
        """Called after every discriminator update (WGAN clips the critic's weights here)."""

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """The images as the discriminator sees them: DiffAugment'ed with ``model.diffaugment``,
        or ``images`` itself when that is empty."""
        return diffaugment(images, self.diffaugment) if self.diffaugment else images

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        reuse = self.n_critic == 1  # keep the graph through G only for fakes G will train on
        for _ in range(self.n_critic):
            images, labels = next_batch()
            with torch.set_grad_enabled(reuse):
                fake = self.generator(self.latent(images.shape[0]), labels)
            d_loss, d_logs = self.critic_loss(self.augment(images), self.augment(fake.detach()),
                                              labels)
            self.optimize("discriminator", d_loss)
            self.after_critic_step()

        if not reuse:
            fake = self.generator(self.latent(images.shape[0]), labels)
        with _frozen(self.discriminator):  # weight gradients for G only
            g_loss, g_logs = self.generator_loss(self.augment(fake), labels)
            self.optimize("generator", g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **d_logs, **g_logs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Checkpoints from before ``train.ema`` kept the generator's average as a module,
        ``generator_ema``, with its update count as a buffer (none before the warm-up, which
        then reads as long past it); they load as the core's weight average."""
        legacy = state["modules"].get("generator_ema")
        if legacy is not None:
            legacy = dict(legacy)
            updates = legacy.pop("ema_updates", torch.tensor(10**9, dtype=torch.long))
            modules = {k: v for k, v in state["modules"].items() if k != "generator_ema"}
            state = {**state, "modules": modules,
                     "average": {"modules": {"generator": legacy}, "updates": updates}}
        super().load_state_dict(state)


@contextmanager
def _frozen(module: nn.Module):
    """No weight gradients for ``module`` (it still passes gradients through to its input)."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)
