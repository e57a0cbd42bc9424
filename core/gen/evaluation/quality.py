"""Sample quality: a model's samples against reference images, in one extractor's feature space.

A `QualityScorer` holds the extractor and the reference images' features, computed once (so the
evaluations during training pay for them once). `score(model, metrics, seed)` draws ``n``
images batch by batch from one seeded generator (quantised to uint8, as a saved image would
be), extracts their features, and turns both sets into FID, KID, precision and recall, and the
generated images' class logits into the Inception Score. FID needs only running sums, so its
memory does not grow with ``n``; KID and precision/recall compare every pair of points and keep
every feature (the IS every logit), so what they need is estimated before any work and a
request that would not fit in memory is refused with the largest ``n`` that would.

Both sets of images reach the extractor by one FID convention (`gen.evaluation.conventions`),
which every record names (``fid_convention``). The reference may instead be a file of its
statistics (`gen.evaluation.reference_stats`, FID alone); the IS alone computes no reference
features.

Generated images whose shape differs from the reference images' (a common space, see
`gen.evaluation.evaluate`) are converted to it first (`Conversion`). Every record names the
space, the reference data and the conversion, so scores are only compared within one space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF

from gen.data.datasets import ImageSet, to_channels
from gen.data.info import DataInfo
from gen.errors import GenError, UsageError
from gen.evaluation.conventions import DEFAULT_CONVENTION, check_convention, preparer
from gen.evaluation.metrics.feature_distances import FrechetStream, kernel_distance
from gen.evaluation.metrics.inception_score import SHUFFLE_SEED, SPLITS, inception_score
from gen.evaluation.metrics.precision_recall import CHUNK, K, precision_recall
from gen.evaluation.reference_stats import ReferenceStats
from gen.extractors.base import Extractor, extract, has_logits, logits
from gen.model import Model
from gen.resources import available_memory
from gen.sampling import generate_batches
from gen.sampling_options import SamplingOptions
from gen.specs import DataSpec

QUALITY_METRICS = ("fid", "kid", "precision", "recall", "is")
MEMORY_SHARE = 0.8  # of the memory available when scoring starts


@dataclass(frozen=True)
class Conversion:
    """Generated uint8 images (N, C, H, W) brought to the reference images' channels and size
    the way gen's data loader shapes a data set: channels first (grey to RGB by repetition, RGB
    to grey by ITU-R 601 luma), then an antialiased bilinear resize. Images already of the
    reference's shape are left as they are, so binary draws stay binary."""

    source: tuple[int, int]  # channels, image size of the model's images
    target: tuple[int, int]  # of the reference images

    @classmethod
    def between(cls, model: DataInfo, reference: tuple[int, int] | None) -> Conversion:
        shape = (model.channels, model.image_size)
        return cls(shape, reference or shape)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        channels, size = self.target
        if images.shape[1] != channels:
            images = to_channels(images, channels)
        if images.shape[-1] != size:
            images = TF.resize(images, [size, size], antialias=True)
        return images

    def describe(self) -> str:
        """``"none"``, or what is done: ``"1x32x32 -> 1x28x28: antialiased bilinear resize"``."""
        (c, s), (tc, ts) = self.source, self.target
        steps = []
        if c != tc:
            steps.append("grey to RGB (repeated)" if tc == 3 else "RGB to grey (ITU-R 601 luma)")
        if s != ts:
            steps.append("antialiased bilinear resize")
        return f"{c}x{s}x{s} -> {tc}x{ts}x{ts}: {', '.join(steps)}" if steps else "none"


def reference_record(space: str, data: DataSpec, reference: str, images: ImageSet
                     ) -> dict[str, Any]:
    """What a quality score's real images are: the space they define and their data."""
    return {"space": space, "reference_data": {
        "dataset": data.dataset, "split": reference, "channels": images.info.channels,
        "image_size": images.info.image_size, "binary": images.info.binary}}


def reference_order(count: int, seed: int) -> torch.Tensor:
    """The order the reference images are drawn in: a permutation chosen by ``seed`` (a
    folder's images come sorted by class, so not simply the first ones)."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))


@dataclass
class QualityScorer:
    extractor: Extractor
    real: torch.Tensor | None  # (n_real, D) float64 features of the reference images used
    real_labels: torch.Tensor | None  # their labels, to match a conditional model's classes
    n: int  # images to generate
    batch_size: int = 256
    reference: dict[str, Any] = field(default_factory=dict)  # `reference_record`
    shape: tuple[int, int] | None = None  # channels, size of the reference images
    convention: str = DEFAULT_CONVENTION  # how images reach the extractor
    stats: ReferenceStats | None = None  # the reference as a file's Gaussian fit (FID only)
    floor: dict[str, dict[str, Any]] | None = None  # by metric: `gen.evaluation.floor`

    @classmethod
    def build(cls, extractor: Extractor, data: ImageSet, n: int, seed: int,
              batch_size: int = 256, reference: dict[str, Any] | None = None,
              convention: str = DEFAULT_CONVENTION, features: bool = True) -> QualityScorer:
        """Features of ``min(n, len(data))`` reference images, drawn in `reference_order`;
        without ``features`` (the IS alone) only their labels are kept."""
        check_convention(convention, extractor)
        count = min(n, data.images.shape[0])
        if count < 2:
            raise GenError(f"the reference set holds {data.images.shape[0]} images; need 2 or more")
        idx = reference_order(data.images.shape[0], seed)[:count]
        real = (extract(extractor, data.images[idx], batch_size, preparer(convention, extractor))
                if features else None)
        labels = None if data.labels is None else data.labels[idx]
        shape = (data.images.shape[1], data.images.shape[-1])
        return cls(extractor, real, labels, n, batch_size, reference or {}, shape, convention)

    @classmethod
    def from_stats(cls, extractor: Extractor, stats: ReferenceStats, n: int,
                   batch_size: int = 256, reference: dict[str, Any] | None = None,
                   convention: str = DEFAULT_CONVENTION) -> QualityScorer:
        """Scores against a file's statistics: no reference images, so no labels either (a
        conditional model's classes cycle)."""
        check_convention(convention, extractor)
        return cls(extractor, None, None, n, batch_size, reference or {}, stats.shape,
                   convention, stats)

    @property
    def n_real(self) -> int:
        """Reference images the scores compare with (0 for the IS alone)."""
        if self.stats is not None:
            return self.stats.n
        return 0 if self.real is None else self.real.shape[0]

    @property
    def dim(self) -> int:
        """Features per image."""
        return self.extractor.num_features if self.real is None else self.real.shape[1]

    def labels_for(self, model: Model) -> torch.Tensor | None:
        """The label pattern for a conditional model (repeated to ``n`` as images are drawn):
        the reference images' own, so the classes come in the reference's proportions; without
        them, None (the classes then cycle)."""
        labels = self.real_labels
        if not model.conditional or labels is None or int(labels.max()) >= model.data.num_classes:
            return None
        return labels

    def score(self, model: Model, metrics: list[str], seed: int,
              progress: Callable[[int], None] | None = None,
              sampling: SamplingOptions | None = None) -> list[dict[str, Any]]:
        """One record per metric of ``metrics`` (names from `QUALITY_METRICS`) for ``n``
        samples of ``model``; the same seed, the same images. ``progress`` is told how many
        images each batch added. An iterative model draws with ``sampling`` (unset: its
        defaults), and each record says with what under ``sampling`` (`SamplingOptions.resolve`:
        sampler, steps, eta, guidance)."""
        self.check(metrics)
        sampling = sampling or SamplingOptions()
        settings = sampling.resolve(model)
        fid = self._frechet() if "fid" in metrics else None
        kept = [] if {"kid", "precision", "recall"} & set(metrics) else None
        classes = [] if "is" in metrics else None
        labels = self.labels_for(model)
        convert = Conversion.between(model.data, self.shape)
        prepare = preparer(self.convention, self.extractor)
        for images in generate_batches(model, self.n, seed, labels, self.batch_size,
                                       sampling=sampling):
            features = extract(self.extractor, convert(images), self.batch_size, prepare)
            if fid is not None:
                fid.update(features)
            if kept is not None:
                kept.append(features)
            if classes is not None:
                classes.append(logits(self.extractor, features))
            if progress is not None:
                progress(images.shape[0])
        fake = torch.cat(kept) if kept is not None else None
        pr = (precision_recall(self.real, fake, K, self.device)
              if {"precision", "recall"} & set(metrics) else None)
        score = inception_score(torch.cat(classes)) if classes is not None else None
        provenance = {**self.provenance(), "conversion": convert.describe()}
        if settings:
            provenance["sampling"] = settings
        return [{"metric": m, **self._value(m, fid, fake, pr, score, seed), **provenance,
                 **({"floor": self.floor[m]} if self.floor and m in self.floor else {})}
                for m in metrics]

    def _frechet(self) -> FrechetStream:
        if self.stats is None:
            return FrechetStream(self.real)
        mu, sigma = (torch.from_numpy(a) for a in (self.stats.mu, self.stats.sigma))
        return FrechetStream.from_statistics(mu, sigma, self.stats.n)

    def _value(self, metric: str, fid: FrechetStream | None, fake: torch.Tensor | None,
               pr: tuple[float, float] | None, score: tuple[float, float] | None,
               seed: int) -> dict[str, Any]:
        if metric == "is":
            return {"value": score[0], "std": score[1], "unit": "score",
                    "estimator": f"exp E KL(p(y|x) || p(y)) of the extractor's logits, "
                    f"{SPLITS} splits shuffled by seed {SHUFFLE_SEED} (torch-fidelity's)"}
        if metric == "fid":
            return {"value": fid.compute(), "unit": "distance",
                    "estimator": "Frechet distance of Gaussian fits"}
        if metric == "kid":
            mean, std, (subsets, size) = kernel_distance(self.real, fake, seed)
            return {"value": mean, "std": std, "unit": "squared MMD",
                    "estimator": f"unbiased, cubic kernel, {subsets} subsets of {size}"}
        return {"value": pr[metric == "recall"], "unit": "fraction",
                "estimator": f"k-NN manifolds, k={K}"}

    def check(self, metrics: list[str]) -> None:
        """Refuse, before any work, what cannot be computed: the IS without class logits or
        on fewer images than splits, precision/recall on fewer than k + 1 images, or metrics
        whose features would not fit in memory."""
        if "is" in metrics:
            check_inception_score(self.extractor, self.n)
        if {"precision", "recall"} & set(metrics) and min(self.n, self.n_real) < K + 1:
            raise UsageError(f"precision and recall need at least {K + 1} generated and "
                             f"reference images (k = {K} neighbours each); got -n {self.n} "
                             f"and {self.n_real} reference images")
        available = available_memory()
        per_image, fixed = memory_per_image(self.dim, self.n_real, metrics)
        if available is None or per_image == 0:
            return
        budget = MEMORY_SHARE * available
        if fixed + per_image * self.n > budget:
            largest = max(0, int((budget - fixed) // per_image))
            need = (fixed + per_image * self.n) / 2**30
            raise UsageError(
                f"{', '.join(m for m in metrics if m != 'fid')} keep the features of every "
                f"image: -n {self.n} needs about {need:.1f} GiB, more than the "
                f"{budget / 2**30:.1f} GiB free for it; use -n {largest} or fewer (fid alone "
                "needs no more memory for a larger -n)"
            )

    @property
    def device(self) -> torch.device:
        return next(self.extractor.parameters(), torch.empty(0)).device

    def provenance(self) -> dict[str, Any]:
        details = {f"extractor_{k}": v for k, v in self.extractor.details.items()}
        stats = {} if self.stats is None else {"reference_stats": self.stats.record()}
        return {"images": self.n, "real_images": self.n_real,
                "generated_images": self.n, "extractor": self.extractor.name,
                "extractor_hash": self.extractor.weights_hash, **details,
                "fid_convention": self.convention, **self.reference, **stats}


def check_inception_score(extractor: Extractor, n: int) -> None:
    """The IS needs an extractor with class logits, and an image per split at least."""
    if not has_logits(extractor):
        raise UsageError(f"is: extractor {extractor.name!r} has no class logits, which the "
                         "Inception Score needs; use the inception extractor (or lenet)")
    if n < SPLITS:
        raise UsageError(f"is: the Inception Score splits the images into {SPLITS}; {n} "
                         "images are fewer (tables report the IS of 50,000 images)")


def memory_per_image(dim: int, n_real: int, metrics: list[str]) -> tuple[float, float]:
    """Bytes the metrics hold per generated image, and the rest: kept float64 features, KID's
    own copies (torchmetrics stores and then concatenates them), precision/recall's float32
    copies and its rows of distances, the IS's float64 logits (counted as wide as the features:
    inception has 1008 classes to 2048 features). FID's running sums are O(D^2) and left out."""
    per_image = fixed = 0.0
    if {"kid", "precision", "recall"} & set(metrics):
        per_image += 8 * dim
    if "is" in metrics:
        per_image += 8 * dim
    if "kid" in metrics:
        per_image += 2 * 8 * dim
        fixed += 2 * 8 * dim * n_real
    if {"precision", "recall"} & set(metrics):
        per_image += 4 * dim + 4 * CHUNK
        fixed += 4 * dim * n_real + 4 * CHUNK * n_real
    return per_image, fixed
