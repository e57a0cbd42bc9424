"""The alternating two-player step shared by every model of the family.

One `train_step` is one iteration of the papers' Algorithm 1 (Goodfellow et al. 2014 with
k = n_critic; Arjovsky et al. 2017; Gulrajani et al. 2017): ``n_critic`` discriminator (critic)
updates, each on its own batch of real images and fresh fakes, then one generator update. With
n_critic > 1 the generator update draws a fresh batch of latents, as the WGAN algorithms do; with
n_critic = 1 it reuses the fakes the discriminator just saw (as DCGAN's reference code does),
which saves a generator forward pass per step.

Four choices are independent of each other, as in PyTorch-StudioGAN:
- the objective: a model overrides `adversarial_d_loss` / `adversarial_g_loss` on the
  discriminator's adversarial outputs (and `critic_penalty`, `after_critic_step`,
  `decision_boundary` where it needs them);
- the networks, ``model.backbone`` (`gen_gan.backbones`);
- the conditioning, ``model.conditioning``: the label joined to D's input, a projection
  discriminator, or an auxiliary classifier whose cross-entropy `critic_loss` and
  `generator_loss` add (Odena et al. 2017) whatever the objective; conditional models draw the
  labels of their fakes from the real batch (c ~ p_data(c));
- the stabilisers: R1/R2 with lazy regularisation and LeCam (`gen_gan.regularizers`, added to
  the discriminator's loss by `regularised_critic_loss`), separate optimizers per network
  (TTUR), and augmentation.

With ``model.diffaugment`` (Zhao et al. 2020, `gen_gan.diffaugment`), `train_step` passes real
and fake images through the same augmentation policies, with fresh draws for each batch, before
every `critic_loss` and `generator_loss`: the discriminator never sees an image that was not
augmented, in either player's update, and the generator's gradient flows back through the
augmentation. Labels are unchanged. Off (an empty list), nothing is added and no random number
is drawn. With ``model.ada_target`` (`gen_gan.ada`) the same operations apply with an adaptive
probability p instead, which the real scores of every discriminator update steer. R1/R2 and
wgan-gp's penalty take the gradient with respect to the images as D sees them (augmented).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

import gen
from gen_gan import backbones, losses
from gen_gan.ada import AdaptiveAugment
from gen_gan.diffaugment import diffaugment
from gen_gan.regularizers import LeCam, ZeroCentredPenalty
from gen_gan.specs import AdversarialSpec

Logs = dict[str, torch.Tensor]


class TwoPlayerGAN(gen.AdversarialModel):
    def __init__(self, spec: AdversarialSpec, data: gen.DataInfo):
        classes = (None if spec.conditioning == "none"
                   else backbones.num_classes(data, spec.name))
        generator = backbones.build_generator(spec, data, classes)
        discriminator = backbones.build_discriminator(spec, data, classes)
        super().__init__(spec, data, generator, discriminator)
        self.n_critic: int = getattr(spec, "n_critic", 1)
        self.diffaugment: tuple[str, ...] = tuple(getattr(spec, "diffaugment", ()))
        self.optimizers = {  # TTUR: each network's own optimizer where the spec gives one
            "generator": (spec.g_optimizer or spec.optimizer).build(generator.parameters()),
            "discriminator": (spec.d_optimizer or spec.optimizer).build(
                discriminator.parameters()),
        }
        # The regularisers' and ADA's state: modules (so checkpoints carry it), only when on
        # (so the checkpoints of runs without them keep their keys).
        self.penalty = self.lecam = self.ada = None
        if spec.r1_gamma > 0 or spec.r2_gamma > 0:
            self.penalty = self.modules["penalty"] = ZeroCentredPenalty(
                spec.r1_gamma, spec.r2_gamma, spec.reg_every)
            # R1/R2 differentiate through D twice, which torch.compile cannot (see wgan_gp)
            self.eager_modules = self.eager_modules | {"discriminator"}
        if spec.lecam_weight > 0:
            self.lecam = self.modules["lecam"] = LeCam(spec.lecam_decay)
        if spec.ada_target is not None:
            self.ada = self.modules["ada"] = AdaptiveAugment(
                spec.ada_target, spec.ada_interval, spec.ada_kimg, self.decision_boundary())

    # ---------------------------------------------------------------- what an objective sets

    def decision_boundary(self) -> float | None:
        """The score that separates "real" from "fake" (ADA's sign heuristic): 0 for a logit;
        None for a critic, which has no fixed one."""
        return 0.0

    def adversarial_d_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor
                           ) -> tuple[torch.Tensor, Logs]:
        """The objective's discriminator loss on the adversarial outputs, and values to log.
        Default: eq. 1 of Goodfellow et al. 2014."""
        return losses.discriminator_loss(real_scores, fake_scores), {
            "d_real": torch.sigmoid(real_scores.detach()).mean(),
            "d_fake": torch.sigmoid(fake_scores.detach()).mean(),
            **losses.decision_accuracy(real_scores, fake_scores),  # logit 0: D = 1/2
        }

    def adversarial_g_loss(self, fake_scores: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        """The objective's generator loss. Default: the non-saturating loss of Goodfellow et
        al. 2014, section 3."""
        return losses.generator_loss_nonsaturating(fake_scores), {}

    def critic_penalty(self, real: torch.Tensor, fake: torch.Tensor,
                       labels: torch.Tensor | None) -> tuple[torch.Tensor | None, Logs]:
        """A penalty the objective adds to the discriminator's loss (wgan-gp's); None here."""
        return None, {}

    def after_critic_step(self) -> None:
        """Called after every discriminator update (WGAN clips the critic's weights here)."""

    # ------------------------------------------------------------------------ the losses

    def scores(self, images: torch.Tensor, labels: torch.Tensor | None
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The discriminator's adversarial output (N,) and its class logits (auxiliary
        conditioning) or None."""
        out = self.discriminator(images, labels)
        return out if isinstance(out, tuple) else (out, None)

    def critic_loss(
        self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, Logs]:
        """The discriminator's loss to minimise and detached values to log, on images as the
        discriminator sees them (augmented, with model.diffaugment or ADA): the objective's,
        its penalty, and with auxiliary conditioning the class cross-entropy on real and fake
        (Odena et al. 2017, -L_C). The regularisers are added by `train_step`."""
        loss, logs, _, _ = self._critic(real, fake, labels)
        return loss, logs

    def _critic(self, real, fake, labels):
        real_scores, real_class = self.scores(real, labels)
        fake_scores, fake_class = self.scores(fake, labels)
        loss, logs = self.adversarial_d_loss(real_scores, fake_scores)
        if real_class is not None:
            classes = (losses.auxiliary_classifier_loss(real_class, labels)
                       + losses.auxiliary_classifier_loss(fake_class, labels))
            loss = loss + classes
            logs = {**logs, "d_class": classes.detach(),
                    "d_accuracy": (real_class.detach().argmax(1) == labels).float().mean()}
        penalty, penalty_logs = self.critic_penalty(real, fake, labels)
        if penalty is not None:
            loss = loss + penalty
        return loss, {**logs, **penalty_logs}, real_scores, fake_scores

    def generator_loss(
        self, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, Logs]:
        """The generator's loss to minimise and detached values to log: the objective's, plus
        the class cross-entropy on its fakes with auxiliary conditioning."""
        scores, class_logits = self.scores(fake, labels)
        loss, logs = self.adversarial_g_loss(scores)
        if class_logits is not None:
            classes = losses.auxiliary_classifier_loss(class_logits, labels)
            loss, logs = loss + classes, {**logs, "g_class": classes.detach()}
        return loss, logs

    def regularised_critic_loss(self, real: torch.Tensor, fake: torch.Tensor,
                                labels: torch.Tensor | None) -> tuple[torch.Tensor, Logs]:
        """`critic_loss` plus the regularisers that are on (LeCam, R1/R2), and ADA's reading
        of the real scores: the loss of one discriminator update."""
        loss, logs, real_scores, fake_scores = self._critic(real, fake, labels)
        if self.ada is not None:
            self.ada.observe(real_scores, self.runtime.world)
        if self.lecam is not None:
            lecam = self.lecam.penalty(real_scores, fake_scores, self.runtime.world)
            loss = loss + self.spec.lecam_weight * lecam
            logs["lecam"] = lecam.detach()
        if self.penalty is not None:
            penalty = self.penalty.penalty(lambda x: self.scores(x, labels)[0], real, fake)
            if penalty is not None:
                loss = loss + penalty
            logs.update(self.penalty.logs())
        return loss, logs

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """The images as the discriminator sees them: DiffAugment'ed with ``model.diffaugment``,
        augmented with probability p with ADA, or ``images`` itself when neither is on."""
        if self.ada is not None:
            return self.ada.augment(images)
        return diffaugment(images, self.diffaugment) if self.diffaugment else images

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        reuse = self.n_critic == 1  # keep the graph through G only for fakes G will train on
        for _ in range(self.n_critic):
            images, labels = next_batch()
            with torch.set_grad_enabled(reuse):
                fake = self.generator(self.latent(images.shape[0]), labels)
            d_loss, d_logs = self.regularised_critic_loss(
                self.augment(images), self.augment(fake.detach()), labels)
            self.optimize("discriminator", d_loss)
            self.after_critic_step()

        if not reuse:
            fake = self.generator(self.latent(images.shape[0]), labels)
        with _frozen(self.discriminator):  # weight gradients for G only
            g_loss, g_logs = self.generator_loss(self.augment(fake), labels)
            self.optimize("generator", g_loss)
        logs = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **d_logs, **g_logs}
        if self.ada is not None:
            logs["ada_p"] = self.ada.p.clone()
        return logs

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
