"""Class coverage: which of the data's classes a model's samples fall into, read by the domain
classifier (the ``lenet`` extractor, trained on the run's labelled data).

A model that has collapsed onto a few modes draws most samples from few classes long before
its losses show anything. Per evaluation this gives:

- ``classes_covered``: classes receiving a meaningful share of the samples, at least
  ``MEANINGFUL`` of their share of the data (a class 10% of the data needs 2.5% of samples);
- ``kl``: KL(generated class frequencies || the data's), in nats (0 when they match; log 10 =
  2.30 when every sample lands in one of ten equally frequent classes);
- ``feature_spread``: sqrt(trace Cov(generated features) / trace Cov(real features)), about 1
  for samples as varied as the data and 0 for one image repeated;
- ``label_accuracy``, for conditional models: how often the classifier recovers the class the
  model was asked for (a model that ignores its label scores about 1 / classes).
"""

from __future__ import annotations

from typing import Any

import torch

from gen.data.datasets import ImageSet
from gen.extractors.base import ExtractorRequest, build_extractor
from gen.model import Model
from gen.plugins import Plugins, get_plugins
from gen.sampling import generate_batches
from gen.specs import DataSpec

MEANINGFUL = 0.25  # of a class's data share, for the class to count as covered
# Samples per measurement, at most: enough to read a 2.5% share to about +-0.5%, and a bound
# on what it adds to an evaluation of a slow sampler (an autoregressive model scored on NLL).
MAX_IMAGES = 1000


class CoverageProbe:
    """The classifier and the reference images' class frequencies and feature spread, made
    once per run and used at every evaluation."""

    def __init__(self, data: DataSpec, reference: ImageSet, model: Model, n: int,
                 batch_size: int = 256, plugins: Plugins | None = None):
        request = ExtractorRequest(data=data, channels=model.data.channels,
                                   image_size=model.data.image_size, device=model.device)
        self.classifier = build_extractor(plugins or get_plugins(), "lenet", request)
        self.classes = int(self.classifier.head.out_features)
        # Half a count per class (Jeffreys): a class missing from a small test split keeps the
        # KL finite; negligible beside the ~100 images per class of a usual split.
        counts = torch.bincount(reference.labels, minlength=self.classes).double() + 0.5
        self.data_share = counts / counts.sum()
        self.n, self.batch_size = min(n, MAX_IMAGES), batch_size
        # A random subset: a folder's images come sorted by class.
        count = reference.images.shape[0]
        real = reference.images[torch.randperm(count, generator=torch.Generator().manual_seed(0))
                                [: self.n]]
        self.real_spread = _spread(torch.cat([
            self._features(real[s : s + batch_size]) for s in range(0, real.shape[0], batch_size)
        ]))

    @torch.no_grad()
    def measure(self, model: Model, seed: int) -> dict[str, Any]:
        """Coverage of ``n`` samples drawn from a generator seeded with ``seed``. Conditional
        models are asked for the classes in turn, so their coverage reflects the request;
        ``label_accuracy`` says whether they honoured it."""
        predicted, features = [], []
        for images in generate_batches(model, self.n, seed, None, self.batch_size):
            f = self._features(images)
            features.append(f)
            predicted.append(self.classifier.classify(f.to(self._device)).argmax(1).cpu())
        predicted = torch.cat(predicted)
        share = torch.bincount(predicted, minlength=self.classes).double() / predicted.numel()
        present = share > 0
        kl = (share[present] * (share[present] / self.data_share[present]).log()).sum()
        record = {
            "classes_covered": int((share >= MEANINGFUL * self.data_share).sum()),
            "num_classes": self.classes,
            "kl": float(kl),
            "feature_spread": float((_spread(torch.cat(features)) / self.real_spread).sqrt()),
            "images": int(predicted.numel()),
            "classifier": "lenet",
            "classifier_hash": self.classifier.weights_hash,
        }
        if model.conditional:
            asked = torch.arange(predicted.numel()) % model.data.num_classes
            record["label_accuracy"] = float((predicted == asked).double().mean())
        return record

    @property
    def _device(self) -> torch.device:
        return next(self.classifier.parameters()).device

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(images.to(self._device)).float()


def _spread(features: torch.Tensor) -> torch.Tensor:
    """Total variance (trace of the covariance) of (N, D) features, in float64."""
    f = features.double().cpu()
    return f.var(dim=0).sum().clamp_min(1e-12)
