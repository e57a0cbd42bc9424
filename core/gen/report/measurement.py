"""Scores and how each was measured: what may share a column, a curve, or a "best".

Two FIDs are comparable only when everything that moves the number is the same: the feature
extractor and its weights, the reference (split, space, data, precomputed statistics), the
number of generated and of real images (FID is biased by n), the resize convention, the
sampler settings or truncation the images were drawn with, and the weights drawn from (the
live ones or their EMA). A likelihood also depends on its estimator and on the images scored.
`Measurement` holds those; scores that differ in any never share a column or a curve, and a
best is chosen only among scores of one `Measurement`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from gen.evaluation.conventions import DEFAULT_CONVENTION
from gen.report.values import integer, is_int, is_number, number, text
from gen.sampling_options import describe

# Metrics in the order the comparison shows them; others a run has follow them.
COMPARED = ("fid", "kid", "is", "precision", "recall", "probe", "nll", "elbo")
# Which way is better; gen.evaluation.evaluate.HIGHER_IS_BETTER says the same (a test checks)
# and is not imported here: that module loads the whole scoring stack.
HIGHER_IS_BETTER = frozenset({"precision", "recall", "probe", "is"})
LOWER_IS_BETTER = frozenset({"fid", "kid", "nll", "elbo"})
NAMES = {"fid": "FID", "kid": "KID", "is": "IS", "nll": "NLL", "elbo": "negative ELBO",
         "probe": "probe accuracy"}


def metric_name(metric: str) -> str:
    return NAMES.get(metric, metric)


def direction(metric: str) -> str | None:
    """``"lower"`` or ``"higher"`` (is better), None for a metric gen does not know."""
    if metric in LOWER_IS_BETTER:
        return "lower"
    return "higher" if metric in HIGHER_IS_BETTER else None


def arrow(metric: str) -> str:
    return {"lower": "↓", "higher": "↑"}.get(direction(metric) or "", "")


@dataclass(frozen=True)
class Measurement:
    """How a score was measured: equal measurements give comparable scores."""

    extractor: str | None = None
    extractor_hash: str | None = None
    reference: str | None = None  # the split ("test", "train") or a folder of images
    space: str | None = None  # where quality metrics were computed (`gen evaluate --space`)
    reference_data: str | None = None  # the reference images' data set and shape
    reference_stats: str | None = None  # sha256 of precomputed reference statistics
    images: int | None = None  # n: generated images (or, for a likelihood, images scored)
    real_images: int | None = None
    convention: str | None = None  # how images reach the extractor (fid_convention)
    sampling: str | None = None  # sampler settings or truncation, in words
    weights: str | None = None  # "ema": drawn from the weight average (train.ema)
    estimator: str | None = None  # likelihoods only: exact, ELBO, importance-weighted...

    def parts(self) -> list[tuple[str, str]]:
        """(field, words) of what is recorded, in reading order."""
        shown = [
            ("extractor", self.extractor),
            ("extractor_hash", short_hash(self.extractor_hash) if self.extractor_hash else None),
            ("images", None if self.images is None else f"n {self.images:,}"),
            ("real_images", None if self.real_images is None else f"real n {self.real_images:,}"),
            ("reference", self.reference and f"reference {self.reference}"),
            ("space", self.space and f"space {self.space}"),
            ("reference_data", self.reference_data),
            ("reference_stats", self.reference_stats and
             f"reference stats {short_hash(self.reference_stats)}"),
            ("convention", self.convention),
            ("sampling", _sampling_text(self.sampling)),
            ("weights", self.weights and f"{self.weights} weights"),
            ("estimator", self.estimator),
        ]
        return [(name, words) for name, words in shown if words]

    def text(self, only: Iterable[str] | None = None) -> str:
        """The measurement in words; ``only`` keeps the fields named (a column header shows
        what tells its column from the others)."""
        keep = None if only is None else set(only)
        words = [w for name, w in self.parts() if keep is None or name in keep]
        return " · ".join(words) or ("no provenance recorded" if keep is None else "")

    def agrees(self, other: Measurement) -> bool:
        """Whether ``other`` has this measurement's value in every field this one records (a
        best.pt of an older run records only some)."""
        return all(getattr(self, f.name) in (None, getattr(other, f.name))
                   for f in fields(self))


def differing(measurements: list[Measurement]) -> list[str]:
    """The fields in which ``measurements`` are not all equal."""
    return [f.name for f in fields(Measurement)
            if len({getattr(m, f.name) for m in measurements}) > 1]


@dataclass
class Score:
    """One evaluation record: its value, and how it was measured."""

    step: int
    metric: str
    value: float
    measurement: Measurement
    unit: str | None = None
    std: float | None = None
    bits_per_dim: float | None = None
    during_training: bool = False  # logged by train.eval_every (else `gen evaluate`)

    @property
    def key(self) -> tuple[str, Measurement]:
        return self.metric, self.measurement


def parse_score(record: dict[str, Any], own_data: str | None = None) -> Score | None:
    """A `Score` of one ``{"step": s, "evaluation": {...}}`` line, None when it has no metric
    name and finite value. ``own_data`` is the run's data in words (`reference_data`)."""
    ev = record.get("evaluation")
    if not isinstance(ev, dict):
        return None
    metric, value = ev.get("metric"), ev.get("value")
    if not isinstance(metric, str) or not is_number(value) or not math.isfinite(value):
        return None
    return Score(step=ev["step"] if is_int(ev.get("step")) else record["step"], metric=metric,
                 value=float(value), measurement=measurement_of(ev, own_data),
                 unit=text(ev.get("unit")), std=number(ev.get("std")),
                 bits_per_dim=number(ev.get("bits_per_dim")),
                 during_training=f"eval_{metric}" in record)


def measurement_of(ev: dict[str, Any], own_data: str | None = None) -> Measurement:
    """The `Measurement` an evaluation record (or best.pt's copy of one) states. Records from
    before conventions existed were all made with torch-fidelity's; quality scores from before
    `--space` existed were computed in the run's own space (``own_data``), so they share a
    column with later scores measured the same way."""
    extractor = text(ev.get("extractor"))
    reference, space = text(ev.get("split")), text(ev.get("space"))
    data = ev.get("reference_data")
    data_text = reference_data(data) if data is not None else None
    if extractor is not None and space is None and reference in ("test", "train") and own_data:
        space, data_text = "run", own_data
    stats = ev.get("reference_stats")
    digest = text(stats.get("sha256")) if isinstance(stats, dict) else text(stats)
    convention = text(ev.get("fid_convention"))
    if extractor is not None and convention is None:
        convention = DEFAULT_CONVENTION
    return Measurement(
        extractor=extractor, extractor_hash=text(ev.get("extractor_hash")),
        reference=reference, space=space, reference_data=data_text or None,
        reference_stats=digest, images=integer(ev.get("images")),
        real_images=integer(ev.get("real_images")), convention=convention,
        sampling=_sampling(ev.get("sampling")),
        weights=text(ev.get("weights")),
        estimator=None if extractor is not None else text(ev.get("estimator")))


def best_of(scores: list[Score]) -> Score | None:
    """The best of scores measured one way (the latest of equal ones); None for a metric whose
    better direction gen does not know."""
    if not scores or direction(scores[0].metric) is None:
        return None
    sign = 1.0 if direction(scores[0].metric) == "lower" else -1.0
    return min(reversed(scores), key=lambda s: (sign * s.value, -s.step))


def reference_data(data: Any) -> str:
    """``bundled-mnist 1x16x16``: the reference images' data set and shape in words."""
    if isinstance(data, dict) and {"dataset", "channels", "image_size"} <= data.keys():
        size = data["image_size"]
        return f"{data['dataset']} {data['channels']}x{size}x{size}"
    return text(data) or ""


def short_hash(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:8]}…" if hexdigest else f"{digest[:12]}…"


def _sampling(settings: Any) -> str | None:
    """Sampler settings or truncation in words (``ddim, 50 steps, eta 0``, ``truncation
    0.7``): the same text for the same settings however a record orders or types them."""
    if isinstance(settings, dict) and settings:
        return describe(settings)
    return text(settings) or None


def _sampling_text(sampling: str | None) -> str | None:
    """``sampler ddim, 50 steps``; a one-pass model's truncation reads as it is."""
    if not sampling:
        return None
    return sampling if sampling.startswith("truncation ") else f"sampler {sampling}"
