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
This is gan's objective with ``model.conditioning=auxiliary``, which `TwoPlayerGAN` implements
for every objective; `ACGANSpec` fixes it.
"""

from __future__ import annotations

from gen_gan.base import TwoPlayerGAN


class ACGAN(TwoPlayerGAN):
    """`TwoPlayerGAN` with ``conditioning`` auxiliary (`ACGANSpec`)."""
