"""`gen evaluate`: score a run's checkpoint on a held-out split and record how.

Each metric is a function of the loaded run and the split's data; every record says what was
measured (metric, value, unit, estimator), on what (split, number of images) and from which
weights (step, checkpoint, seed). Records are printed and appended to the run's metrics.jsonl.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gen.data.datasets import ImageSet, held_out, load_dataset
from gen.data.loader import sequential_batches
from gen.errors import GenError
from gen.latent import encode_all
from gen.metrics.likelihood import negative_log_likelihood
from gen.metrics.probe import linear_probe_accuracy
from gen.sampling import LoadedRun
from gen.training.metrics_log import MetricsLog
from gen.training.rundir import RunDir


def _likelihood(metric: str):
    def run(loaded: LoadedRun, data: ImageSet, options: dict[str, Any]) -> dict[str, Any]:
        batches = sequential_batches(data, options["batch_size"], loaded.model.device)
        return negative_log_likelihood(loaded.model, batches, metric, options["iw_samples"])

    return run


def _probe(loaded: LoadedRun, data: ImageSet, options: dict[str, Any]) -> dict[str, Any]:
    train = load_dataset(held_out(loaded.spec.data, "train", options["limit"]))
    if train.labels is None or data.labels is None:
        raise GenError("probe: the data set has no labels to fit a classifier to")
    features = [encode_all(loaded.model, d, options["batch_size"]).double() for d in (train, data)]
    accuracy = linear_probe_accuracy(features[0], train.labels, features[1], data.labels)
    return {"metric": "probe", "value": accuracy, "unit": "accuracy",
            "estimator": "logistic regression on posterior means", "images": len(data.labels),
            "train_images": len(train.labels)}


METRICS: dict[str, Callable[[LoadedRun, ImageSet, dict[str, Any]], dict[str, Any]]] = {
    "nll": _likelihood("nll"),
    "elbo": _likelihood("elbo"),
    "probe": _probe,
}


def evaluate(
    loaded: LoadedRun,
    run_dir: Path,
    metrics: list[str],
    split: str = "test",
    iw_samples: int = 1000,
    batch_size: int = 256,
    limit: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise GenError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    data = load_dataset(held_out(loaded.spec.data, split, limit))
    options = {"iw_samples": iw_samples, "batch_size": batch_size, "limit": limit}
    records = []
    for metric in metrics:
        torch.manual_seed(seed)  # sampled estimators (ELBO, IW) are reproducible
        record = METRICS[metric](loaded, data, options)
        record.update(model=loaded.spec.model.name, split=split, step=loaded.step,
                      checkpoint=str(loaded.checkpoint), seed=seed)
        records.append(record)
    run = RunDir(Path(run_dir))
    log = MetricsLog(run.metrics_path)
    try:
        for record in records:
            log.write({"step": loaded.step, "evaluation": record})
    finally:
        log.close()
    return records
