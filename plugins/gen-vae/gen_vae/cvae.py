"""CVAE: Sohn, Lee & Yan 2015, "Learning Structured Output Representation using Deep
Conditional Generative Models".

The VAE with the class label y given to the recognition network q(z|x, y) and to the generation
network p(x|z, y). The prior stays N(0, I), independent of y. The paper also learns a
conditional Gaussian prior network; with y as the conditioning input that adds no flexibility,
since a y-dependent affine map of z can be absorbed by the encoder and decoder (which both see
y) without changing the KL.
``log_prob(x, y)`` is then a lower bound on log p(x|y), and ``sample`` draws z ~ N(0, I) and
decodes it with the requested labels.
"""

from __future__ import annotations

import gen
from gen_vae.specs import CVAESpec
from gen_vae.vae import VAE


class CVAE(VAE):
    def __init__(self, spec: CVAESpec, data: gen.DataInfo):
        if data.num_classes is None:
            raise gen.DataError(
                f"cvae needs class labels, but the {data.name} data has none "
                "(for image-folder: one sub-folder per class)"
            )
        super().__init__(spec, data, num_classes=data.num_classes)
