"""GAN: Goodfellow et al. 2014, "Generative Adversarial Nets": eq. 1 with the non-saturating
generator objective of section 3 (the step and losses of `TwoPlayerGAN`), on the mlp backbone
by default (`gen_gan.backbones.mlp`)."""

from __future__ import annotations

from gen_gan.base import TwoPlayerGAN


class GAN(TwoPlayerGAN):
    """The objective of `TwoPlayerGAN` unchanged; `GANSpec` picks the mlp backbone."""
