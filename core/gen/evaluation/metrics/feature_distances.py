"""FID and KID between two sets of features, with torchmetrics' arithmetic.

gen computes each set's features once (see `gen.evaluation.quality`) and shares them between
FID, KID and precision/recall, so torchmetrics is handed the features themselves through a
pass-through "extractor" that declares ``num_features`` (which also spares it a dummy 299x299
forward).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


class _Given(nn.Module):
    """Features in, the same features out."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class FrechetStream:
    """FID (Heusel et al. 2017): ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^1/2) of
    Gaussians fitted to the two sets, in float64. Generated features are added batch by batch:
    torchmetrics keeps running sums of them and of their outer products, so memory is O(D^2)
    however many images are scored."""

    def __init__(self, real: torch.Tensor):
        self._metric = _frechet_metric(real.shape[1])
        self._metric.update(real.double(), real=True)

    @classmethod
    def from_statistics(cls, mu: torch.Tensor, sigma: torch.Tensor, n: int) -> FrechetStream:
        """The real side given as the Gaussian fit of ``n`` features (mean ``mu``, covariance
        ``sigma`` with the n - 1 denominator, as numpy's and torchmetrics' are), e.g. from a
        reference-statistics file: torchmetrics' running sums are set to what they would hold
        after those features, so the FID equals the one computed from the features."""
        stream = cls.__new__(cls)
        stream._metric = metric = _frechet_metric(mu.shape[0])
        mu, sigma = mu.double(), sigma.double()
        metric.real_features_sum = mu * n
        metric.real_features_cov_sum = sigma * (n - 1) + n * torch.outer(mu, mu)
        metric.real_features_num_samples = torch.tensor(n, dtype=torch.long)
        return stream

    def update(self, fake: torch.Tensor) -> None:
        self._metric.update(fake.double(), real=False)

    def compute(self) -> float:
        return float(self._metric.compute())


def _frechet_metric(dim: int):
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=_Given(dim))


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID of two whole feature sets (see `FrechetStream`)."""
    stream = FrechetStream(real)
    stream.update(fake)
    return stream.compute()


def kernel_distance(
    real: torch.Tensor, fake: torch.Tensor, seed: int = 0
) -> tuple[float, float, tuple[int, int]]:
    """KID (Binkowski et al. 2018): the unbiased estimate of the squared MMD with the cubic
    polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of equal size
    (at most 1,000, fewer when a set is smaller). Returns (mean, std over subsets, subsets).
    When both sets fit in one subset every subset would hold the same images, so one is used.
    The subsets come from a generator seeded with ``seed``; the caller's RNG stream is left as
    it was."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(KID_SUBSET_SIZE, real.shape[0], fake.shape[0])
    subsets = 1 if real.shape[0] == fake.shape[0] == size else KID_SUBSETS
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(
            feature=_Given(real.shape[1]), subsets=subsets, subset_size=size
        )
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):  # torchmetrics draws subsets from the global RNG
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std), (subsets, size)
