"""Negative log-likelihood over a whole split, in nats per image and bits per dimension.

bits/dim = nats per image / (C * H * W * ln 2): the denominator counts every sub-pixel, the
convention of van den Oord et al. 2016 and every likelihood table since.

A conditional model is scored with each image's own label, so its value is -log p(x|y), not
-log p(x): knowing the class makes a digit cheaper to code, and the two are not comparable. Every
record says which (``conditional``, ``quantity``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from gen.capabilities import capabilities, estimator_name, require
from gen.data.batch import Batch
from gen.errors import GenError
from gen.model import Model
from gen.plugin_code import checked


def negative_log_likelihood(
    model: Model, batches: Iterable[Batch], metric: str = "nll", iw_samples: int | None = None
) -> dict[str, Any]:
    """``nll``: exact for ``likelihood == "exact"``; for a lower bound, the importance-weighted
    estimate with `importance_samples` draws where the model has ``iw_log_prob``, else the negated
    bound itself (an upper bound on the NLL); ``elbo``: the negated bound of a lower-bound
    model, named as the model names it (an upper bound on the NLL). Sums in float64 so the mean
    does not depend on the batch size. For a conditional model both are of p(x|y), given each
    image's label. A value per image that is not finite is the model's error
    (`gen.plugin_code.checked`), never an ``nll nan`` record."""
    iw_samples = importance_samples(model, metric, iw_samples)
    estimator = _estimator(model, metric, iw_samples)
    weighted = iw_samples is not None
    total, count = torch.zeros((), dtype=torch.float64), 0
    with torch.no_grad():
        for images, labels in batches:
            y = labels if model.conditional else None
            if weighted:
                log_p = model.iw_log_prob(images, y, samples=iw_samples)
            else:
                log_p = model.log_prob(images, y)
            call = "iw_log_prob" if weighted else "log_prob"  # one finite value per image
            total += -checked(model, call, log_p, (images.shape[0],)).double().sum().cpu()
            count += images.shape[0]
    if count == 0:
        raise GenError("the evaluation split holds no images")
    nats = total.item() / count
    dims = model.data.channels * model.data.image_size**2
    return {
        "metric": metric,
        "value": nats,
        "unit": "nats/image",
        "bits_per_dim": nats / (dims * math.log(2)),
        "estimator": estimator,
        "images": count,
        "conditional": model.conditional,
        "quantity": quantity(model),
    }


def quantity(model: Model) -> str:
    """What an nll or elbo record of ``model`` estimates or bounds."""
    return "-log p(x|y)" if model.conditional else "-log p(x)"


def _estimator(model: Model, metric: str, iw_samples: int | None) -> str:
    """How the value is computed, in the model's own words: exact, importance-weighted with
    ``iw_samples`` draws (`importance_samples`), or its bound, named as it names it."""
    require(model, "nll", metric)
    own = estimator_name(model)
    if metric == "elbo":
        if model.likelihood != "lower-bound":
            raise GenError(f"elbo: {model.spec.name!r} has an exact likelihood; use --metrics "
                           "nll")
        return f"negative {own} (upper bound)"
    if model.likelihood == "exact":
        return own
    if iw_samples is not None:
        return f"importance-weighted, K={iw_samples}"
    return f"negative {own} (upper bound)"


IW_SAMPLES = 1000  # importance samples K of a model that declares no default


def importance_samples(model: Model, metric: str, given: int | None) -> int | None:
    """The draws K of ``metric`` where it is an importance-weighted estimate (the nll of a
    lower-bound model with ``iw_log_prob``): those ``given``, else the model's declared
    ``default_iw_samples``, else `IW_SAMPLES`. None where it is not one."""
    if (metric != "nll" or model.likelihood != "lower-bound"
            or "iw-nll" not in capabilities(type(model))):
        return None
    return given or getattr(model, "default_iw_samples", None) or IW_SAMPLES
