"""The projection discriminator: Miyato & Koyama 2018, "cGANs with Projection Discriminator".

Section 3, eq. 3: with phi(x) the discriminator's penultimate features and psi its
(unconditional) output layer, the logit of x under class y is

    f(x, y) = psi(phi(x)) + <embed(y), phi(x)>,

the inner product of a learned class embedding with the features: the log-ratio of the
class-conditional densities, modelled as linear in phi, as a discrete-label log-linear model
implies. It works on any backbone whose discriminator splits into ``features`` (phi) and ``head``
(psi): every gen-gan backbone does. With spectral normalisation the embedding is normalised too,
as in the authors' code.
"""

from __future__ import annotations

import torch
from torch import nn


class ProjectionDiscriminator(nn.Module):
    def __init__(self, net: nn.Module, classes: int, width: int):
        """``net``: a backbone discriminator with one output; ``width``: the size of its
        flattened features phi(x)."""
        super().__init__()
        self.num_classes = classes
        self.net = net
        self.embed = nn.Embedding(classes, width)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y is None:
            raise ValueError("this discriminator is conditional: pass the labels y")
        features = self.net.features(x)
        unconditional = self.net.head(features).flatten(1).squeeze(1)
        projection = (self.embed(y) * features.flatten(1)).sum(1)
        return unconditional + projection
