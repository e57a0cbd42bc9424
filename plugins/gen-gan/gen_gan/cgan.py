"""cGAN: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets".

Both players see the label y (eq. 2): min_G max_D E[log D(x|y)] + E[log(1 - D(G(z|y)|y))].
G gets the one-hot label concatenated to z; D gets it joined to the image at its input (as
num_classes constant one-hot maps on a convolutional backbone, so every convolution can relate
the image to its class; appended to the flattened image on mlp): `gen_gan.backbones.
conditioning`. The paper's maxout MLPs are replaced by ``model.backbone`` (dcgan by default);
the generator uses the non-saturating loss. This is gan's objective with
``model.conditioning=concat``, which `TwoPlayerGAN` implements for every objective; `CGANSpec`
fixes it.
"""

from __future__ import annotations

from gen_gan.base import TwoPlayerGAN


class CGAN(TwoPlayerGAN):
    """`TwoPlayerGAN` with ``conditioning`` concat (`CGANSpec`)."""
