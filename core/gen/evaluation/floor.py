"""The floor: what a perfect model would score, so a score can be read against it.

A model whose samples were the reference distribution itself would still not score FID 0 at a
finite n: two samples of one distribution differ, and FID is biased upwards for small sets
(Chong & Forsyth 2020). `gen evaluate --floor` measures that: two disjoint draws of n
reference images each (the first is the set the score itself compares with), scored against
each other with the same extractor, convention and estimators. What each metric's floor is:

- ``fid``: the FID of the two draws, > 0, shrinking as n grows: no model can be expected below it.
- ``kid``: unbiased, so about 0 at any n (it may be negative); its std says how far a model's
  KID may stray from 0 by chance.
- ``precision``, ``recall``: below 1 (each draw's k-NN balls miss some of the other's points):
  the best a model can reach at this n and k.
- ``is``: the Inception Score of the second draw: the reference images' own score, which a
  perfect model would match (a ceiling rather than a floor, stored the same way).

A reference of fewer than 2n images is split into two halves, and the floor is that at the
halves' n (said in a warning and in each record's ``floor.n``): for FID a higher value than
the floor at n.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from gen.data.datasets import ImageSet
from gen.errors import GenWarning, UsageError
from gen.evaluation.conventions import preparer
from gen.evaluation.metrics.feature_distances import frechet_distance, kernel_distance
from gen.evaluation.metrics.inception_score import inception_score
from gen.evaluation.metrics.precision_recall import K, precision_recall
from gen.evaluation.quality import reference_order
from gen.extractors.base import Extractor, extract, logits

FLOORED = ("fid", "kid", "precision", "recall", "is")
ESTIMATOR = "two disjoint draws of the reference images, scored against each other"


def reference_floor(extractor: Extractor, data: ImageSet, metrics: list[str], n: int,
                    seed: int, batch_size: int = 256, convention: str = "torch-fidelity",
                    first: torch.Tensor | None = None) -> dict[str, dict[str, Any]]:
    """The floor of each metric of ``metrics`` that has one, by metric: ``value`` (``std`` for
    kid and is), ``n`` (images in each draw) and ``estimator``. The draws follow
    `reference_order` of ``seed``, so the first is the reference set of a score at the same
    seed; ``first`` may give its features, already extracted (at least as many rows)."""
    wanted = [m for m in metrics if m in FLOORED]
    total = data.images.shape[0]
    size = min(n, total // 2)
    if size < 2 or ({"precision", "recall"} & set(wanted) and size < K + 1):
        raise UsageError(f"--floor needs two disjoint draws of the reference images; "
                         f"{total} images make two of {size}, too few for "
                         f"{', '.join(wanted)}")
    if size < n:
        warnings.warn(GenWarning(
            f"--floor: the reference holds {total} images, fewer than two draws of -n {n}: "
            f"the floor compares two halves of {size} images, so it is the floor at n={size} "
            f"(for fid a higher value than at n={n})"), stacklevel=2)
    order = reference_order(total, seed)
    prepare = preparer(convention, extractor)
    second = extract(extractor, data.images[order[size:2 * size]], batch_size, prepare)
    if {"fid", "kid", "precision", "recall"} & set(wanted):
        first = (first[:size] if first is not None and first.shape[0] >= size else
                 extract(extractor, data.images[order[:size]], batch_size, prepare))
    values: dict[str, dict[str, Any]] = {}
    if "fid" in wanted:
        values["fid"] = {"value": frechet_distance(first, second)}
    if "kid" in wanted:
        mean, std, _ = kernel_distance(first, second, seed)
        values["kid"] = {"value": mean, "std": std}
    if {"precision", "recall"} & set(wanted):
        device = next(extractor.parameters(), torch.empty(0)).device
        precision, recall = precision_recall(first, second, K, device)
        values.update(precision={"value": precision}, recall={"value": recall})
    if "is" in wanted:
        mean, std = inception_score(logits(extractor, second))
        values["is"] = {"value": mean, "std": std}
    return {m: {**values[m], "n": size, "estimator": ESTIMATOR} for m in wanted}
