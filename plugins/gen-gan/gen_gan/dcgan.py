"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks": the objective of gan (eq. 1 of Goodfellow et al.
2014, non-saturating generator) on the convolutional backbone the paper introduced
(`gen_gan.backbones.dcgan`), its default; every other backbone can be chosen."""

from __future__ import annotations

from gen_gan.base import TwoPlayerGAN


class DCGAN(TwoPlayerGAN):
    """The objective of `TwoPlayerGAN` unchanged; `DCGANSpec` picks the dcgan backbone."""
