"""The `QualityScorer` of one evaluation: its space, extractor and reference side (images,
or a file of reference statistics), checked before any image is drawn.

A file's statistics serve FID alone: KID and precision/recall compare every pair of points and
so need the reference images' features themselves, and the floor needs reference images to
draw twice. Both are refused up front, as is a file made with another extractor, weights,
convention or image shape (`gen.evaluation.reference_stats`).
"""

from __future__ import annotations

from gen.data.datasets import ImageSet, load_dataset
from gen.errors import UsageError
from gen.evaluation.floor import reference_floor
from gen.evaluation.options import EvalOptions, Subject
from gen.evaluation.quality import (
    QUALITY_METRICS,
    QualityScorer,
    check_inception_score,
    reference_record,
)
from gen.evaluation.reference_stats import (
    OPTION,
    ReferenceStats,
    check_extractor,
    check_options,
    check_shape,
    load_reference_stats,
)
from gen.evaluation.spaces import parse_space, reference_spec
from gen.extractors.base import ExtractorRequest, build_extractor
from gen.plugins import Plugins, get_plugins

NEEDS_FEATURES = ("fid", "kid", "precision", "recall")  # of the reference images
NEEDS_IMAGES = ("kid", "precision", "recall")  # not served by a file's mean and covariance


def reference_stats_for(metrics: list[str], options: EvalOptions) -> ReferenceStats | None:
    """The file ``options.reference_stats`` names, read and checked against the options and
    metrics before any work (None without one); ``--floor`` without reference images is
    refused here too."""
    if options.floor and not any(m in QUALITY_METRICS for m in metrics):
        raise UsageError(f"--floor applies to {', '.join(QUALITY_METRICS)}; "
                         f"{', '.join(metrics)} {_verb(metrics, 'has', 'have')} none")
    if options.reference_stats is None:
        return None
    if options.floor:
        raise UsageError(f"--floor draws reference images twice, and {OPTION} holds none: "
                         f"use --floor with --reference (a split or a folder), not {OPTION}")
    refused = [m for m in metrics if m in NEEDS_IMAGES]
    if refused:
        raise UsageError(f"{OPTION} holds a mean and covariance, which serve fid alone: "
                         f"{', '.join(refused)} {_verb(refused, 'needs', 'need')} the "
                         "reference images' features; use --reference for them")
    stats = load_reference_stats(options.reference_stats)
    check_options(stats, options.extractor, options.fid_convention)
    return stats


def build_scorer(subject: Subject, data: ImageSet, options: EvalOptions,
                 plugins: Plugins | None = None, metrics: list[str] = (),
                 stats: ReferenceStats | None = None) -> QualityScorer:
    """The extractor and reference side of ``options.space``: the run's own (``data`` is its
    reference split, already loaded) or a common space's, whose reference split is loaded
    here and for whose data the extractor is built. ``metrics`` the extractor cannot serve are
    refused before any features are computed; reference features are computed only for
    metrics that compare with them (all, when ``metrics`` is empty), and against ``stats``
    (checked against the extractor and the space's shape) not at all."""
    space = parse_space(options.space)
    spec = subject.spec.data if space is None else space
    if space is not None:
        data = load_dataset(reference_spec(space, options.reference, space.channels,
                                           options.limit))
    request = ExtractorRequest(
        data=spec, channels=data.info.channels, image_size=data.info.image_size,
        device=subject.model.device, weights=options.extractor_weights,
    )
    if stats is not None:
        check_shape(stats, (data.images.shape[1], data.images.shape[-1]))
    extractor = build_extractor(plugins or get_plugins(), options.extractor, request)
    if "is" in metrics:
        check_inception_score(extractor, options.n)
    if stats is not None:
        check_extractor(stats, extractor)
        reference = {"space": options.space, "reference_data": stats.reference_data()}
        return QualityScorer.from_stats(extractor, stats, options.n, options.batch_size,
                                        reference, options.fid_convention)
    reference = reference_record(options.space, spec, options.reference, data)
    features = not metrics or any(m in NEEDS_FEATURES for m in metrics)
    scorer = QualityScorer.build(extractor, data, options.n, options.seed, options.batch_size,
                                 reference, options.fid_convention, features)
    if options.floor:
        scorer.floor = reference_floor(extractor, data, list(metrics), options.n, options.seed,
                                       options.batch_size, options.fid_convention, scorer.real)
    return scorer


def _verb(names: list[str], one: str, many: str) -> str:
    return one if len(names) == 1 else many
