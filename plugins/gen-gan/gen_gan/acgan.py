"""AC-GAN: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier
GANs".

G(c, z) gets the one-hot class concatenated to z; D sees only the image and returns two heads
from the same features, an adversarial logit P(S | X) and class logits P(C | X). Section 3,
eqs. 2 and 3:

    L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]
    L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]

D maximises L_S + L_C; G maximises L_C - L_S, here with the non-saturating form of -L_S
(G maximises log P(S = real | X_fake), Goodfellow et al. 2014 section 3). Both class terms are
cross-entropies on raw logits. Networks: ``model.backbone`` (dcgan by default), whose
discriminator has 1 + num_classes outputs (`gen_gan.backbones.conditioning.AuxiliaryClassifier`).
"""

from __future__ import annotations

import torch
from torch import nn

import gen
from gen_gan import backbones, losses
from gen_gan.base import Logs, TwoPlayerGAN
from gen_gan.specs import ACGANSpec


class ACGAN(TwoPlayerGAN):
    def build_generator(self, spec: ACGANSpec, data: gen.DataInfo) -> nn.Module:
        return backbones.build_generator(spec, data, backbones.num_classes(data, spec.name))

    def build_discriminator(self, spec: ACGANSpec, data: gen.DataInfo) -> nn.Module:
        return backbones.build_discriminator(
            spec, data, auxiliary_classes=backbones.num_classes(data, spec.name))

    def critic_loss(
        self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, Logs]:
        real_source, real_class = self.discriminator(real)
        fake_source, fake_class = self.discriminator(fake)
        source = losses.discriminator_loss(real_source, fake_source)  # -L_S
        classes = (losses.auxiliary_classifier_loss(real_class, labels)
                   + losses.auxiliary_classifier_loss(fake_class, labels))  # -L_C
        return source + classes, {
            "d_real": torch.sigmoid(real_source.detach()).mean(),
            "d_fake": torch.sigmoid(fake_source.detach()).mean(),
            **losses.decision_accuracy(real_source, fake_source),
            "d_class": classes.detach(),
            "d_accuracy": (real_class.detach().argmax(1) == labels).float().mean(),
        }

    def generator_loss(
        self, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, Logs]:
        source, class_logits = self.discriminator(fake)
        classes = losses.auxiliary_classifier_loss(class_logits, labels)  # -L_C on fakes
        return losses.generator_loss_nonsaturating(source) + classes, {"g_class": classes.detach()}
