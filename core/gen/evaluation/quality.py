"""Sample quality: a model's samples against reference images, in one extractor's feature space.

A `QualityScorer` holds the extractor and the reference images' features, computed once (so the
evaluations during training pay for them once). `features(model, seed)` draws ``n`` images in
batches from one seeded generator, quantises them to uint8 as a saved image would be, and
extracts their features; `records(...)` turns both sets into FID, KID, precision and recall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gen.data.datasets import ImageSet
from gen.errors import GenError
from gen.evaluation.metrics.feature_distances import frechet_distance, kernel_distance
from gen.evaluation.metrics.precision_recall import K, precision_recall
from gen.extractors.base import Extractor, extract
from gen.model import Model
from gen.sampling import generate

QUALITY_METRICS = ("fid", "kid", "precision", "recall")


@dataclass
class QualityScorer:
    extractor: Extractor
    real: torch.Tensor  # (n_real, D) float64 features of the reference images used
    real_labels: torch.Tensor | None  # their labels, to match a conditional model's classes
    n: int  # images to generate
    batch_size: int = 256

    @classmethod
    def build(cls, extractor: Extractor, data: ImageSet, n: int, seed: int,
              batch_size: int = 256) -> QualityScorer:
        """Features of ``min(n, len(data))`` reference images, a random subset chosen by
        ``seed`` (a folder's images come sorted by class, so not simply the first ones)."""
        count = min(n, data.images.shape[0])
        if count < 2:
            raise GenError(f"the reference set holds {data.images.shape[0]} images; need 2 or more")
        order = torch.randperm(data.images.shape[0], generator=torch.Generator().manual_seed(seed))
        idx = order[:count]
        real = extract(extractor, data.images[idx], batch_size)
        labels = None if data.labels is None else data.labels[idx]
        return cls(extractor, real, labels, n, batch_size)

    def labels_for(self, model: Model) -> torch.Tensor | None:
        """Labels for a conditional model: the reference images' own (repeated to ``n``), so
        the classes come in the reference's proportions; without them, cycling classes."""
        if not model.conditional:
            return None
        classes = model.data.num_classes
        labels = self.real_labels
        if labels is None or int(labels.max()) >= classes:
            return torch.arange(self.n) % classes
        return labels.repeat(-(-self.n // labels.shape[0]))[: self.n]

    def features(self, model: Model, seed: int) -> torch.Tensor:
        """Features of ``n`` samples of ``model``; the same seed, the same images."""
        images = generate(model, self.n, seed, self.labels_for(model), self.batch_size)
        return extract(self.extractor, images, self.batch_size)

    def records(self, metrics: list[str], fake: torch.Tensor, seed: int) -> list[dict[str, Any]]:
        """One record per metric of ``metrics`` (names from `QUALITY_METRICS`)."""
        pr = None
        records = []
        for metric in metrics:
            if metric == "fid":
                record = {"value": frechet_distance(self.real, fake), "unit": "distance",
                          "estimator": "Frechet distance of Gaussian fits"}
            elif metric == "kid":
                mean, std, (subsets, size) = kernel_distance(self.real, fake, seed)
                record = {"value": mean, "std": std, "unit": "squared MMD",
                          "estimator": f"unbiased, cubic kernel, {subsets} subsets of {size}"}
            else:
                pr = pr or precision_recall(self.real, fake, K, self.device)
                record = {"value": pr[metric == "recall"], "unit": "fraction",
                          "estimator": f"k-NN manifolds, k={K}"}
            records.append({"metric": metric, **record, **self.provenance(fake)})
        return records

    @property
    def device(self) -> torch.device:
        return next(self.extractor.parameters(), torch.empty(0)).device

    def provenance(self, fake: torch.Tensor) -> dict[str, Any]:
        details = {f"extractor_{k}": v for k, v in self.extractor.details.items()}
        return {"images": fake.shape[0], "real_images": self.real.shape[0],
                "generated_images": fake.shape[0], "extractor": self.extractor.name,
                "extractor_hash": self.extractor.weights_hash, **details}
