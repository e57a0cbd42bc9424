"""The toy iterative model: independent Bernoulli pixels (per class when conditional) reached
from uniform noise in ``steps`` steps of a sampler, ``walk`` or ``glide`` (which adds eta-scaled
noise). It keeps the keywords each ``sample`` call received, for the tests to read."""

import torch
import torch.nn.functional as F
from torch import nn

import gen
from gen.extractors.base import Extractor


class ToyIterative(gen.Model):
    likelihood = "exact"
    samplers = {"walk": ("steps",), "glide": ("steps", "eta")}

    def __init__(self, spec, data):
        super().__init__(spec, data)
        shape = (data.channels, data.image_size, data.image_size)
        rows = data.num_classes if spec.conditional else 1
        self.net = nn.Module()
        self.net.logits = nn.Parameter(torch.zeros(rows, *shape))
        self.modules = {"net": self.net}
        self.optimizers = {"net": torch.optim.SGD(self.net.parameters(), lr=spec.lr)}
        self.received: list[dict] = []

    @property
    def conditional(self) -> bool:
        return self.spec.conditional

    def _logits(self, labels, n):
        if not self.conditional:
            return self.net.logits.expand(n, *self.net.logits.shape[1:])
        return self.net.logits[labels]

    def log_prob(self, x, y=None):
        target = (x > 0).float()
        logits = self._logits(y, x.shape[0])
        return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum((1, 2, 3))

    def train_step(self, next_batch):
        images, labels = next_batch()
        loss = -self.log_prob(images, labels).mean()
        self.optimize("net", loss)
        return {"nll": loss.detach()}

    def sampling_defaults(self):
        s = self.spec
        defaults = {"sampler": s.sampler, "steps": s.steps, "eta": s.eta}
        return {**defaults, "guidance": s.guidance} if s.conditional else defaults

    def network_calls(self, task, **options):
        if task == "log_prob":
            return 1
        guided = self.conditional and options.get("guidance", 1.0) != 1.0
        return options["steps"] * (2 if guided else 1)

    @torch.no_grad()
    def sample(self, n, labels=None, generator=None, *, sampler=None, steps=None, eta=None,
               guidance=None):
        self.received.append({"sampler": sampler, "steps": steps, "eta": eta,
                              "guidance": guidance})
        d = self.sampling_defaults()
        sampler, steps = sampler or d["sampler"], steps or d["steps"]
        eta = d["eta"] if eta is None else eta
        if self.conditional and labels is None:
            labels = torch.arange(n, device=self.device) % self.data.num_classes
        logits = self._logits(labels, n)
        if self.conditional:
            scale = d["guidance"] if guidance is None else guidance
            plain = self.net.logits.mean(0, keepdim=True)
            logits = plain + scale * (logits - plain)
        target = torch.sigmoid(logits)
        x = torch.rand(target.shape, generator=generator, device=self.device)
        for _ in range(steps):
            x = x + (target - x) / 2
            if sampler == "glide" and eta:
                x = x + eta * 0.01 * torch.randn(x.shape, generator=generator, device=self.device)
        return torch.bernoulli(x.clamp(0, 1), generator=generator) * 2 - 1


class Pixels(Extractor):
    """Average-pooled pixels as features: no weights to train or download."""

    def __init__(self, channels):
        super().__init__()
        self.num_features = channels * 16
        self.weights_hash = "sha256:" + "0" * 64

    def forward(self, images):
        return F.adaptive_avg_pool2d(images.float() / 255, 4).flatten(1)


def build_pixels(request):
    return Pixels(request.channels)
