"""Decoder likelihoods p(x|z) over pixels, and recovering pixel values from [-1, 1] batches.

Batches reach a model as floats in [-1, 1]: binary pixels are exactly -1 or 1, 8-bit pixels are
v / 127.5 - 1 for v in 0..255. Both likelihoods first map the batch back to those discrete
values (rounding, so float noise or a resize never puts a pixel between two bins), then score it.
Each returns log p(x|z) summed over all pixels of an image: nats per image, shape (N,), and
draws images from p(x|z) in the batch's value set (``sample``) or gives its mean (``mean``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BIN = 1.0 / 127.5  # width of one 8-bit bin on the [-1, 1] scale


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """8-bit values 0..255 (as floats) of images in [-1, 1]."""
    return ((x + 1.0) * 127.5).round().clamp(0.0, 255.0)


def to_binary(x: torch.Tensor) -> torch.Tensor:
    """0/1 pixels of binarised images (-1 or 1; anything above 0 counts as on)."""
    return (x > 0).to(x.dtype)


class Bernoulli:
    """One logit per pixel: log p(x|z) = sum x log sigmoid(l) + (1 - x) log sigmoid(-l)
    (Kingma & Welling 2014, appendix C.1)."""

    params = 1  # decoder outputs per image channel

    @staticmethod
    def target(x: torch.Tensor) -> torch.Tensor:
        return to_binary(x)

    @staticmethod
    def log_prob(params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ll = -F.binary_cross_entropy_with_logits(params, target, reduction="none")
        return ll.flatten(1).sum(1)

    @staticmethod
    def mean(params: torch.Tensor) -> torch.Tensor:
        """The mean image, p(pixel on) mapped to [-1, 1] (grey where the model is unsure)."""
        return torch.sigmoid(params) * 2.0 - 1.0

    @staticmethod
    def sample(params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw of every pixel, -1 (off) or 1 (on): the value set of binarised batches."""
        on = torch.bernoulli(torch.sigmoid(params), generator=generator)
        return on * 2.0 - 1.0


class DiscretisedLogistic:
    """A logistic distribution per sub-pixel, discretised to the 256 bins of 8-bit values
    (Salimans et al. 2017, eq. 2; Kingma et al. 2016 used it for VAEs on CIFAR-10).

    Chosen over a 256-way softmax because it needs 2 outputs per sub-pixel instead of 256 and
    knows that neighbouring intensities are alike, so it learns faster from little data. The
    edge bins take the tails: P(0) = F(-1 + bin/2), P(255) = 1 - F(1 - bin/2), so the 256
    probabilities sum to one exactly.
    """

    params = 2  # mean and log-scale per image channel
    min_log_scale = -7.0

    @staticmethod
    def split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_scale = params.chunk(2, dim=1)
        return mean, log_scale.clamp(min=DiscretisedLogistic.min_log_scale)

    @staticmethod
    def target(x: torch.Tensor) -> torch.Tensor:
        return to_pixels(x) / 127.5 - 1.0

    @classmethod
    def log_prob(cls, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mean, log_scale = cls.split(params)
        return log_prob_bins(target, mean, log_scale).flatten(1).sum(1)

    @classmethod
    def mean(cls, params: torch.Tensor) -> torch.Tensor:
        """The logistic's mean (also its mode), clamped to the image range."""
        return cls.split(params)[0].clamp(-1.0, 1.0)

    @classmethod
    def sample(cls, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw of every sub-pixel, one of the 256 bin centres v / 127.5 - 1: a logistic draw by
        its inverse CDF, mean + s * logit(u), rounded to its bin (the edge bins take the tails,
        as in `log_prob_bins`)."""
        mean, log_scale = cls.split(params)
        u = torch.rand(mean.shape, device=mean.device, generator=generator)
        x = mean + log_scale.exp() * (torch.log(u) - torch.log1p(-u))
        return to_pixels(x) / 127.5 - 1.0


def log_prob_bins(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) elementwise for bin centres ``x`` in [-1, 1], without catastrophic cancellation:
    with a, b the standardised upper and lower bin edges,
    log(sigmoid(a) - sigmoid(b)) = b + log(expm1(a - b)) - softplus(a) - softplus(b)."""
    inv_scale = torch.exp(-log_scale)
    upper = (x - mean + BIN / 2) * inv_scale
    lower = (x - mean - BIN / 2) * inv_scale
    interior = lower + torch.log(torch.expm1(upper - lower)) - F.softplus(upper) - F.softplus(lower)
    first = -F.softplus(-upper)  # log F(upper): the bin of value 0 takes the lower tail
    last = -F.softplus(lower)  # log (1 - F(lower)): the bin of value 255 takes the upper tail
    return torch.where(x < -1 + BIN / 2, first, torch.where(x > 1 - BIN / 2, last, interior))
