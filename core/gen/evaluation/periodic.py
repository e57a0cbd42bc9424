"""Evaluation during training (``train.eval_every``): a score every so many steps, logged to
metrics.jsonl, and the best weights kept as ``checkpoints/best.pt``.

With a labelled data set each evaluation also measures class coverage
(`gen.evaluation.coverage`), which the training-health rules read.

An iterative model draws with its ``sampling_defaults()`` here, and its sample-quality records
say so under ``sampling`` (as those of `gen evaluate` do), so a report never compares them with
scores drawn with other sampler settings.

GAN runs often get worse late in training, so the last checkpoint is not always the one to keep.
An evaluation moves no RNG stream (every state is saved before and restored after it; samples
come from a generator seeded with ``train.seed``) and leaves every module's train/eval mode as it
found it, so the weights of a run are the same with or without evaluations, and a resumed run
still equals an uninterrupted one.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from gen.capabilities import require
from gen.data.datasets import held_out, load_dataset
from gen.errors import GenError
from gen.evaluation.coverage import CoverageProbe
from gen.evaluation.evaluate import HIGHER_IS_BETTER, Evaluation
from gen.evaluation.options import EvalOptions, Subject
from gen.evaluation.quality import QUALITY_METRICS
from gen.evaluation.scorer import build_scorer
from gen.model import Model
from gen.seeding import preserved_rng
from gen.specs import RunSpec


class PeriodicEvaluator:
    """Scores the model in training on ``train.eval_metric`` and tracks the best score."""

    def __init__(self, spec: RunSpec, model: Model, best: float | None = None):
        tr = spec.train
        self.spec = spec
        self.metric = tr.eval_metric
        self.best = best
        _check_applicable(self.metric, model)
        self.options = EvalOptions(reference="test", n=tr.eval_n, extractor=tr.eval_extractor,
                                   seed=tr.seed)
        self.data = load_dataset(held_out(spec.data, "test"))
        self.scorer = self.coverage = None
        with preserved_rng(), eval_mode(model):  # fail before training starts, not at step 1
            if self.metric in QUALITY_METRICS:
                self.scorer = build_scorer(Subject(model, self.spec, 0), self.data, self.options,
                                           metrics=[self.metric])
            if self.data.labels is not None:
                self.coverage = CoverageProbe(spec.data, self.data, model, tr.eval_n)

    def evaluate(self, model: Model, step: int) -> dict[str, Any]:
        with preserved_rng(), eval_mode(model):
            ev = Evaluation(Subject(model, self.spec, step), self.data, [self.metric], self.options,
                            scorer=self.scorer)
            return ev.run()[0]

    def measure_coverage(self, model: Model) -> dict[str, Any] | None:
        """Class coverage of the model's samples; None for unlabelled data."""
        if self.coverage is None:
            return None
        with preserved_rng(), eval_mode(model):
            return self.coverage.measure(model, self.options.seed)

    def improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.metric in HIGHER_IS_BETTER else value < self.best


@contextmanager
def eval_mode(model: Model):
    """Every module in eval mode for the block, then each back to the mode it was in."""
    modes = [(m, m.training) for top in model.modules.values() for m in top.modules()]
    model.train(False)
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _check_applicable(metric: str, model: Model) -> None:
    name = model.spec.name
    if metric in ("nll", "elbo"):
        require(model, "nll", f"train.eval_metric={metric}")
    if metric == "elbo" and model.likelihood != "lower-bound":
        raise GenError(f"train.eval_metric=elbo: {name!r} has an exact likelihood; use nll")
    if metric == "probe":
        require(model, "encode", "train.eval_metric=probe")
