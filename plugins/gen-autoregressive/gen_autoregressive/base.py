"""What the four models share: discrete outputs, the exact likelihood, the training step and the
pixel-by-pixel sampler.

A network maps images (N, C, H, W) in [-1, 1] (and labels, when conditional) to one
distribution per sub-pixel, laid out as (N, C * K, H, W) with the K outputs of channel c at
features c*K .. c*K + K - 1: a 256-way softmax for 8-bit data (van den Oord et al. 2016a,
section 2.2) or one Bernoulli logit (K = 1) for binarised data. The model then has

    log p(x) = sum over (i, j, c) of log p(x[c, i, j] | everything earlier),

exact, in nats per image; training minimises its mean.

Sampling walks the sub-pixels in the same order. A *stepper* answers "the output at (i, j, c)
given everything sampled so far"; the naive stepper runs the whole network each time, the fast
ones (in each model's module) keep caches. Both are driven by one loop that draws one
``torch.rand`` per sub-pixel from the caller's generator and inverts the CDF, so a fast sampler
consumes the random stream exactly like the naive one and gives the same images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import gen


class DiscreteOutput:
    """Pixel values <-> network inputs, and the per-sub-pixel distribution over them."""

    def __init__(self, binary: bool):
        self.binary = binary
        self.levels = 2 if binary else 256
        self.outputs = 1 if binary else 256  # K: one logit, or 256 softmax logits

    def values(self, images: torch.Tensor) -> torch.Tensor:
        """Integer pixel values (int64) of images in [-1, 1]: 0/1 for binarised data (the loader
        gives exactly -1 or 1), else 0..255 from v / 127.5 - 1, rounded to undo float error."""
        if self.binary:
            return (images > 0).long()
        return images.add(1).mul(127.5).round().clamp(0, 255).long()

    def inputs(self, values: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Values back to [-1, 1], exactly as the data loader scales them (v / 127.5 - 1)."""
        return values.to(dtype) / ((self.levels - 1) / 2) - 1

    def log_prob(self, logits: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """log p(value) per sub-pixel from logits (..., K) and values (...)."""
        if self.binary:
            target = values.to(logits.dtype)
            return -F.binary_cross_entropy_with_logits(logits[..., 0], target, reduction="none")
        return logits.log_softmax(-1).gather(-1, values.unsqueeze(-1)).squeeze(-1)

    def draw(self, logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Values (N,) for logits (N, K) by inverting the CDF at uniforms ``u`` (N,)."""
        if self.binary:
            return (u < torch.sigmoid(logits[:, 0].to(u.dtype))).long()
        cdf = logits.to(u.dtype).softmax(-1).cumsum(-1)
        return (cdf < u[:, None]).sum(-1).clamp(max=self.outputs - 1)


class Stepper:
    """Naive sampling state: the images so far, and one full forward pass per sub-pixel."""

    def __init__(self, model: AutoregressiveModel, n: int, labels: torch.Tensor | None):
        self.model = model
        self.labels = labels
        c, size = model.data.channels, model.data.image_size
        self.x = torch.zeros(n, c, size, size, device=model.device, dtype=model.dtype)

    def logits(self, i: int, j: int, c: int) -> torch.Tensor:
        """The K outputs (N, K) of sub-pixel (i, j, c) given everything committed before it."""
        return self.model.logits(self.x, self.labels)[:, c, i, j]

    def commit(self, i: int, j: int, c: int, value: torch.Tensor) -> None:
        self.x[:, c, i, j] = value

    def end_row(self, i: int) -> None:
        """Called once row ``i`` is complete (caches that work row by row update here)."""


class CachedStepper(Stepper):
    """Shared by the cached samplers of networks that start with a masked input convolution
    and end with two 1x1 output layers: the padded input image, and the output head evaluated
    at the one position being sampled."""

    def __init__(self, model: AutoregressiveModel, n: int, labels: torch.Tensor | None):
        from gen_autoregressive.fast import Conv

        super().__init__(model, n, labels)
        net = model.net
        self.shape = (n, model.data.channels, model.head.outputs)
        self.input = Conv(net.input)
        self.image = self.input.buffer(n, model.data.image_size, self.x)
        self.out1, self.out2 = Conv(net.out1), Conv(net.out2)

    def head(self, a: torch.Tensor, c: int) -> torch.Tensor:
        out = self.out2.pointwise(F.relu(self.out1.pointwise(F.relu(a))))
        return out.view(self.shape)[:, c]

    def commit(self, i: int, j: int, c: int, value: torch.Tensor) -> None:
        super().commit(i, j, c, value)
        self.image[:, c, i + self.input.kh // 2, j + self.input.kw // 2] = value


class AutoregressiveModel(gen.Model):
    """Base of the family: ``build_net`` returns the network; a model with a fast sampler
    overrides ``fast_stepper``."""

    likelihood = "exact"

    def __init__(self, spec, data: gen.DataInfo):
        super().__init__(spec, data)
        self.head = DiscreteOutput(data.binary)
        self.net = self.build_net(spec, data, self._num_classes(spec, data))
        self.modules = {"net": self.net}
        self.optimizers = {"net": spec.optimizer.build(self.net.parameters())}

    def build_net(self, spec, data: gen.DataInfo, num_classes: int | None) -> nn.Module:
        raise NotImplementedError

    @staticmethod
    def _num_classes(spec, data: gen.DataInfo) -> int | None:
        if not getattr(spec, "class_conditional", False):
            return None
        if data.num_classes is None:
            raise gen.DataError(
                f"model.class_conditional is set but the {data.name} data has no class labels; "
                "use labelled data (for image-folder: one sub-folder per class) or set "
                "model.class_conditional=false"
            )
        return data.num_classes

    @property
    def conditional(self) -> bool:
        return getattr(self.net, "num_classes", None) is not None

    @property
    def dtype(self) -> torch.dtype:
        return next(self.net.parameters()).dtype

    @property
    def dims(self) -> int:
        """C * H * W, the denominator of bits per dimension."""
        return self.data.channels * self.data.image_size**2

    def logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs (N, C, H, W, K) for images ``x`` in [-1, 1]; [n, c, i, j] parametrises
        p(x[n, c, i, j] | the sub-pixels before it)."""
        out = self.net(x, y)
        n, _, h, w = out.shape
        k = self.head.outputs
        return out.view(n, self.data.channels, k, h, w).permute(0, 1, 3, 4, 2)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log-likelihood per image in nats, shape (N,)."""
        if self.conditional and y is None:
            raise gen.GenError(f"{self.spec.name} is class-conditional: log_prob needs labels")
        values = self.head.values(x)
        logits = self.logits(self.head.inputs(values, self.dtype), y if self.conditional else None)
        return self.head.log_prob(logits, values).flatten(1).sum(1)

    def train_step(self, next_batch: gen.NextBatch) -> dict[str, torch.Tensor]:
        images, labels = next_batch()
        nll = -self.log_prob(images, labels if self.conditional else None).mean()
        self.optimize("net", nll)
        nll = nll.detach()
        return {"nll": nll, "bits_per_dim": nll / (self.dims * math.log(2))}

    def fast_stepper(self, n: int, labels: torch.Tensor | None) -> Stepper | None:
        """A cached sampler equivalent to the naive one, or None when the model has none."""
        return None

    @torch.no_grad()
    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` images in [-1, 1], with the cached sampler where the model has one."""
        labels = self._sample_labels(n, labels)
        stepper = self.fast_stepper(n, labels) or Stepper(self, n, labels)
        return self.sample_with(stepper, n, generator)

    @torch.no_grad()
    def sample_naive(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The reference sampler: one full forward pass per sub-pixel."""
        labels = self._sample_labels(n, labels)
        return self.sample_with(Stepper(self, n, labels), n, generator)

    def _sample_labels(self, n: int, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if labels is None:
            return torch.arange(n, device=self.device) % self.data.num_classes
        return labels.to(self.device)

    @torch.no_grad()
    def sample_with(self, stepper: Stepper, n: int, generator: torch.Generator | None,
             rows: int | None = None) -> torch.Tensor:
        """The sampling loop, driving ``stepper`` (naive or cached) through every sub-pixel in
        order with one uniform per sub-pixel from ``generator``; ``rows`` stops early (for
        benchmarks). Returns the images, float32 in [-1, 1]."""
        c, size = self.data.channels, self.data.image_size
        # float64 uniforms keep the inverse-CDF draw exact to ~1e-16; MPS has no float64.
        u_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        was_training = self.net.training
        self.net.eval()
        try:
            for i in range(size if rows is None else rows):
                for j in range(size):
                    for ch in range(c):
                        logits = stepper.logits(i, j, ch)
                        u = torch.rand(n, generator=generator, device=self.device,
                                       dtype=u_dtype)
                        value = self.head.draw(logits, u)
                        stepper.commit(i, j, ch, self.head.inputs(value, self.dtype))
                stepper.end_row(i)
        finally:
            self.net.train(was_training)
        return stepper.x.float()
