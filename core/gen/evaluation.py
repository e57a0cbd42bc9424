"""`gen evaluate`: score a run's checkpoint against reference images and record how.

Likelihoods (``nll``, ``elbo``) and the linear ``probe`` score the reference images themselves;
sample-quality metrics (``fid``, ``kid``, ``precision``, ``recall``) compare ``n`` generated
images with them in a feature extractor's space. Every record says what was measured (metric,
value, unit, estimator), on what (reference split, numbers of real and generated images, the
extractor and its weights' hash) and from which weights (step, checkpoint, seed). Records are
printed and appended to the run's metrics.jsonl.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from gen.data.datasets import ImageSet, held_out, load_dataset
from gen.data.loader import sequential_batches
from gen.errors import GenError
from gen.extractors.base import ExtractorRequest, build_extractor
from gen.latent import encode_all
from gen.metrics.likelihood import negative_log_likelihood
from gen.metrics.probe import linear_probe_accuracy
from gen.plugins import Plugins, get_plugins
from gen.quality import QUALITY_METRICS, QualityScorer
from gen.sampling import LoadedRun
from gen.specs import DataSpec
from gen.training.metrics_log import MetricsLog
from gen.training.rundir import RunDir

HIGHER_IS_BETTER = frozenset({"precision", "recall", "probe"})  # lower: fid, kid, nll, elbo


@dataclass
class EvalOptions:
    reference: str = "test"  # "test", "train" (the run's data set) or a folder of images
    n: int = 10_000  # generated images for fid/kid/precision/recall (real: at most as many)
    extractor: str = "lenet"
    extractor_weights: str | None = None
    iw_samples: int = 1000
    batch_size: int = 256
    limit: int | None = None  # use only the first `limit` reference images
    seed: int = 0


class Evaluation:
    """One evaluation of one set of weights. The feature scorer and the generated images'
    features are made on first use and shared by every quality metric asked for."""

    def __init__(self, loaded: LoadedRun, data: ImageSet, metrics: list[str],
                 options: EvalOptions, scorer: QualityScorer | None = None,
                 plugins: Plugins | None = None):
        self.loaded, self.data, self.metrics, self.options = loaded, data, metrics, options
        self._given_scorer, self._plugins = scorer, plugins

    @cached_property
    def scorer(self) -> QualityScorer:
        return self._given_scorer or build_scorer(
            self.loaded, self.data, self.options, self._plugins
        )

    @cached_property
    def quality(self) -> dict[str, dict[str, Any]]:
        wanted = [m for m in self.metrics if m in QUALITY_METRICS]
        fake = self.scorer.features(self.loaded.model, self.options.seed)
        return {r["metric"]: r for r in self.scorer.records(wanted, fake, self.options.seed)}

    def run(self) -> list[dict[str, Any]]:
        records = []
        for metric in self.metrics:
            torch.manual_seed(self.options.seed)  # sampled estimators (ELBO, IW) are reproducible
            record = METRICS[metric](self)
            checkpoint = self.loaded.checkpoint  # None during training
            records.append(record | {
                "model": self.loaded.spec.model.name, "split": self.options.reference,
                "step": self.loaded.step, "seed": self.options.seed,
                "checkpoint": None if checkpoint is None else str(checkpoint),
            })
        return records


def _likelihood(metric: str):
    def run(ev: Evaluation) -> dict[str, Any]:
        model = ev.loaded.model
        batches = sequential_batches(ev.data, ev.options.batch_size, model.device)
        return negative_log_likelihood(model, batches, metric, ev.options.iw_samples)

    return run


def _probe(ev: Evaluation) -> dict[str, Any]:
    train = load_dataset(held_out(ev.loaded.spec.data, "train", ev.options.limit))
    data = ev.data
    if train.labels is None or data.labels is None:
        raise GenError("probe: the data set has no labels to fit a classifier to")
    size = ev.options.batch_size
    features = [encode_all(ev.loaded.model, d, size).double() for d in (train, data)]
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


def reference_spec(data: DataSpec, reference: str, channels: int,
                   limit: int | None = None) -> DataSpec:
    """The data spec of ``reference``: a split of the run's data set (dynamic binarisation
    becomes the fixed static draw), or a folder of images read as ``image-folder`` at the run's
    image size and channels."""
    if reference in ("test", "train"):
        return held_out(data, reference, limit)
    folder = Path(reference).expanduser()
    if not folder.is_dir():
        raise GenError(
            f"--reference must be 'test', 'train' or a folder of images; {reference!r} is "
            "neither"
        )
    return held_out(data, "test", limit).model_copy(
        update={"dataset": "image-folder", "root": str(folder), "channels": channels}
    )


def build_scorer(loaded: LoadedRun, data: ImageSet, options: EvalOptions,
                 plugins: Plugins | None = None) -> QualityScorer:
    model = loaded.model
    request = ExtractorRequest(
        data=loaded.spec.data, channels=model.data.channels, image_size=model.data.image_size,
        device=model.device, weights=options.extractor_weights,
    )
    extractor = build_extractor(plugins or get_plugins(), options.extractor, request)
    return QualityScorer.build(extractor, data, options.n, options.seed, options.batch_size)


def check_metrics(metrics: list[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise GenError(
            f"unknown metric {unknown[0] if unknown else ''!r}; known: {', '.join(METRICS)}"
        )


def evaluate(loaded: LoadedRun, run_dir: Path, metrics: list[str],
             options: EvalOptions | None = None, record: bool = True) -> list[dict[str, Any]]:
    """Score ``loaded`` on ``metrics`` and (unless ``record`` is false, for a caller that shows
    the results first) append the records to the run's metrics.jsonl."""
    options = options or EvalOptions()
    check_metrics(metrics)
    model = loaded.model
    spec = reference_spec(loaded.spec.data, options.reference, model.data.channels,
                          options.limit)
    if options.reference not in ("test", "train"):
        options = replace(options, reference=str(Path(options.reference).expanduser().resolve()))
    records = Evaluation(loaded, load_dataset(spec), metrics, options).run()
    if record:
        record_evaluations(run_dir, loaded.step, records)
    return records


def record_evaluations(run_dir: Path, step: int, records: list[dict[str, Any]]) -> None:
    """Append ``records`` to the run's metrics.jsonl; a run on read-only storage (or a full
    disk) is a `WriteError` naming the file."""
    log = MetricsLog(RunDir(Path(run_dir)).metrics_path)
    try:
        for record in records:
            log.write({"step": step, "evaluation": record})
    finally:
        log.close()
