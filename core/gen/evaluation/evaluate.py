"""`gen evaluate`: score a run's checkpoint against reference images and record how.

Likelihoods (``nll``, ``elbo``) and the linear ``probe`` score the reference images themselves;
sample-quality metrics (``fid``, ``kid``, ``precision``, ``recall``) compare ``n`` generated
images with them in a feature extractor's space, and ``is`` scores the generated images by the
extractor's class logits. Every record says what was measured (metric, value, unit, estimator),
on what (reference split, numbers of real and generated images, the extractor and its weights'
hash, the FID convention) and from which weights (step, checkpoint, seed). Records are printed
and appended to the run's metrics.jsonl. Quality metrics are computed in a *space*
(`gen.evaluation.spaces`), against reference images or a file of their statistics
(`gen.evaluation.scorer`), optionally beside the floor a perfect model would score
(`gen.evaluation.floor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import cached_property
from typing import Any

import torch

from gen.data.batch import Batch
from gen.data.datasets import ImageSet, held_out, load_dataset
from gen.data.loader import sequential_batches
from gen.errors import GenError, UsageError
from gen.evaluation.comparability import warn_record
from gen.evaluation.conventions import check_convention
from gen.evaluation.metrics.likelihood import importance_samples, negative_log_likelihood
from gen.evaluation.metrics.precision_recall import K
from gen.evaluation.metrics.probe import linear_probe_accuracy
from gen.evaluation.options import EvalOptions, Subject
from gen.evaluation.quality import QUALITY_METRICS, QualityScorer
from gen.evaluation.reference_stats import ReferenceStats
from gen.evaluation.scorer import NEEDS_IMAGES, build_scorer, reference_stats_for
from gen.evaluation.spaces import RUN_SPACE, parse_space, reference_spec
from gen.latent import encode_all
from gen.model import Model
from gen.paths import user_path
from gen.plugins import Plugins
from gen.progress import counting
from gen.run.layout import RunDir
from gen.run.metrics_log import MetricsLog
from gen.sampling_options import SamplingOptions, sampling_cost

HIGHER_IS_BETTER = frozenset({"precision", "recall", "probe", "is"})  # lower: fid, kid, nll, elbo


class Evaluation:
    """One evaluation of one set of weights. The feature scorer and the generated images'
    features are made on first use and shared by every quality metric asked for."""

    def __init__(self, subject: Subject, data: ImageSet, metrics: list[str],
                 options: EvalOptions, scorer: QualityScorer | None = None,
                 plugins: Plugins | None = None, stats: ReferenceStats | None = None):
        self.subject, self.data, self.metrics, self.options = subject, data, metrics, options
        self._given_scorer, self._plugins, self.stats = scorer, plugins, stats

    @cached_property
    def scorer(self) -> QualityScorer:
        return self._given_scorer or build_scorer(
            self.subject, self.data, self.options, self._plugins, self.metrics, self.stats
        )

    @cached_property
    def quality(self) -> dict[str, dict[str, Any]]:
        wanted = [m for m in self.metrics if m in QUALITY_METRICS]
        with counting(self.scorer.n, "scoring samples", self.options.progress) as advance:
            records = self.scorer.score(self.subject.model, wanted, self.options.seed, advance,
                                        self.options.sampling)
        return {r["metric"]: r for r in records}

    def run(self) -> list[dict[str, Any]]:
        records = []
        for metric in self.metrics:
            torch.manual_seed(self.options.seed)  # sampled estimators (ELBO, IW) are reproducible
            record = METRICS[metric](self)
            checkpoint = self.subject.checkpoint  # None during training
            split = record.get("reference_stats", {}).get("file", self.options.reference)
            records.append(record | {
                "model": self.subject.spec.model.name, "split": split,
                "step": self.subject.step, "seed": self.options.seed,
                "checkpoint": None if checkpoint is None else str(checkpoint),
            } | ({"weights": "ema"} if self.subject.model.weights == "ema" else {}))
        return records


def _likelihood(metric: str):
    def run(ev: Evaluation) -> dict[str, Any]:
        model = ev.subject.model
        batches = sequential_batches(ev.data, ev.options.batch_size, model.device)
        with counting(ev.data.images.shape[0], f"{metric} of the reference images",
                      ev.options.progress) as advance:
            return negative_log_likelihood(model, _counted(batches, advance), metric,
                                           ev.options.iw_samples)

    return run


def _counted(batches: Iterable[Batch], advance: Callable[[int], None]) -> Iterator[Batch]:
    """``batches``, each counted done when the next one is asked for (it has been scored)."""
    for batch in batches:
        yield batch
        advance(batch.images.shape[0])


def _probe(ev: Evaluation) -> dict[str, Any]:
    train = load_dataset(held_out(ev.subject.spec.data, "train", ev.options.limit))
    data = ev.data
    if train.labels is None or data.labels is None:
        raise GenError("probe: the data set has no labels to fit a classifier to")
    size = ev.options.batch_size
    features = [encode_all(ev.subject.model, d, size).double() for d in (train, data)]
    accuracy = linear_probe_accuracy(features[0], train.labels, features[1], data.labels)
    return {"metric": "probe", "value": accuracy, "unit": "accuracy",
            "estimator": "logistic regression on posterior means", "images": len(data.labels),
            "train_images": len(train.labels)}


def _quality(metric: str):
    def run(ev: Evaluation) -> dict[str, Any]:
        return dict(ev.quality[metric])

    return run


METRICS: dict[str, Callable[[Evaluation], dict[str, Any]]] = {
    "nll": _likelihood("nll"),
    "elbo": _likelihood("elbo"),
    "probe": _probe,
    **{m: _quality(m) for m in QUALITY_METRICS},
}


def default_metrics(model: Model, n: int, extractor: str = "lenet",
                    space: str = RUN_SPACE, images: bool = True) -> list[str]:
    """What a model is scored on when no metric is named: sample quality for every model
    (precision and recall only when ``n`` leaves each image its k neighbours; not the IS, which
    needs a classifier's logits and an ImageNet-like domain), ``nll`` for a
    density model and ``elbo`` too where its likelihood is a lower bound. Not sample quality
    where it cannot be computed: the ``lenet`` extractor trained on a run's own unlabelled
    data (a density model is then scored on its likelihood alone). Without reference
    ``images`` (a statistics file) only fid of the quality metrics."""
    unlabelled = extractor == "lenet" and space == RUN_SPACE and model.data.num_classes is None
    metrics = [] if unlabelled else [
        m for m in QUALITY_METRICS if m != "is" and (n > K or m not in ("precision", "recall"))
        and (images or m not in NEEDS_IMAGES)]
    if model.likelihood is not None:
        metrics.append("nll")
    if model.likelihood == "lower-bound":
        metrics.append("elbo")
    if not metrics:
        raise UsageError(
            f"nothing to score {model.spec.name!r} on by default: it has no likelihood, and the "
            "lenet extractor needs class labels its data lacks; use --extractor inception or "
            "--space mnist-grey-28"
        )
    return metrics


def check_metrics(metrics: list[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise GenError(
            f"metrics: unknown metric {unknown[0] if unknown else ''!r:.60}; known: "
            f"{', '.join(METRICS)}"
        )


def evaluate(subject: Subject, metrics: list[str] | None = None,
             options: EvalOptions | None = None) -> list[dict[str, Any]]:
    """Score ``subject`` on ``metrics`` (None: `default_metrics`): one record per metric, in
    order."""
    options = options or EvalOptions()
    if metrics is None:
        metrics = default_metrics(subject.model, options.n, options.extractor, options.space,
                                  images=options.reference_stats is None)
    check_metrics(metrics)
    settings = check_sampling(subject.model, metrics, options.sampling)
    parse_space(options.space)  # a bad space or convention fails before any work
    check_convention(options.fid_convention)
    if {"precision", "recall"} & set(metrics) and options.n < K + 1:
        raise UsageError(f"precision and recall need at least {K + 1} images (each one's {K} "
                         f"nearest neighbours); got -n {options.n}")
    stats = reference_stats_for(metrics, options)
    model = subject.model
    spec = reference_spec(subject.spec.data, options.reference, model.data.channels,
                          options.limit)
    if options.reference not in ("test", "train"):
        folder = user_path(options.reference, "--reference").resolve()
        options = replace(options, reference=str(folder))
    data = load_dataset(spec)
    if options.notes is not None:
        for line in cost_notes(model, metrics, options, settings, data.images.shape[0]):
            options.notes(line)
    evaluation = Evaluation(subject, data, metrics, options, stats=stats)
    records = evaluation.run()
    for record in records:
        if record["metric"] == "fid":
            warn_record(record, evaluation.scorer.dim)
    return records


def check_sampling(model: Model, metrics: list[str], sampling: SamplingOptions) -> dict[str, Any]:
    """The settings the quality metrics draw with (`SamplingOptions.resolve`); options given
    for metrics that draw no images are a `UsageError`."""
    settings = sampling.resolve(model)
    given = sampling.given()
    if given and not any(m in QUALITY_METRICS for m in metrics):
        raise UsageError(f"{sampling.flag(next(iter(given)))} applies to drawn samples "
                         f"({', '.join(QUALITY_METRICS)}); {', '.join(metrics)} draw none")
    return settings


def cost_notes(model: Model, metrics: list[str], options: EvalOptions, settings: dict[str, Any],
               reference_images: int) -> list[str]:
    """What an evaluation will cost, said before it starts: the network calls of drawing
    ``options.n`` images with an iterative model's sampler, and of a likelihood over the
    reference images where the model counts its calls (`Model.network_calls`) or the nll is
    importance-weighted (K calls per image). Nothing of a pass per image."""
    lines = []
    if any(m in QUALITY_METRICS for m in metrics):
        line = sampling_cost(model, settings, options.n, options.n_default)
        if line is not None:
            lines.append(line)
    for metric in (m for m in metrics if m in ("nll", "elbo")):
        calls = model.network_calls("log_prob")
        draws = importance_samples(model, metric, options.iw_samples) or 1
        if calls is not None or draws > 1:
            per_image = int(calls or 1) * draws
            how = "" if draws == 1 else f", importance-weighted with K={draws} draws each"
            lines.append(f"{metric} of {reference_images} reference images{how}: "
                         f"{per_image * reference_images:,} network calls")
    return lines


def record_evaluations(run: RunDir, step: int, records: list[dict[str, Any]]) -> None:
    """Append ``records`` to the run's metrics.jsonl, and hand them to the run's trackers; a
    run on read-only storage (or a full disk) is a `WriteError` naming the file."""
    from gen.tracking.evaluations import open_for_evaluation  # its trackers' libraries

    log = MetricsLog(run.metrics_path)  # writable first: trackers never get what it lacks
    trackers = log.trackers = open_for_evaluation(run)
    try:
        for record in records:
            log.write({"step": step, "evaluation": record})
    finally:
        log.close()
        if trackers is not None:
            trackers.finish(None)
