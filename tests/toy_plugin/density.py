"""Independent Bernoulli pixels: the simplest model with an exact likelihood."""

import torch
import torch.nn.functional as F
from torch import nn

import gen


class Logits(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(shape))


class ToyDensity(gen.Model):
    likelihood = "exact"

    def __init__(self, spec, data):
        super().__init__(spec, data)
        self.net = Logits((data.channels, data.image_size, data.image_size))
        self.modules = {"net": self.net}
        self.optimizers = {"net": torch.optim.SGD(self.net.parameters(), lr=spec.lr)}

    def log_prob(self, x, y=None):
        target = (x > 0).float()
        logits = self.net.logits.expand_as(target)
        return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum((1, 2, 3))

    def train_step(self, next_batch):
        images, _ = next_batch()
        loss = -self.log_prob(images).mean()
        self.optimize("net", loss)
        return {"nll": loss.detach()}

    @torch.no_grad()
    def sample(self, n, labels=None, generator=None):
        p = torch.sigmoid(self.net.logits).expand(n, *self.net.logits.shape)
        return torch.bernoulli(p, generator=generator) * 2 - 1
