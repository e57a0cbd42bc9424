"""What an evaluation scores and how: the weights (`Subject`) and the options of `gen evaluate`
(`EvalOptions`), apart from the code that uses them so every part of the evaluation can name
them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gen.arguments import flag, optional_whole, seed, text, whole
from gen.errors import UsageError
from gen.evaluation.conventions import DEFAULT_CONVENTION
from gen.evaluation.spaces import RUN_SPACE
from gen.model import Model
from gen.sampling_options import SamplingOptions
from gen.specs import RunSpec

DEFAULT_N = 10_000  # generated images of fid/kid/precision/recall unless told


@dataclass
class Subject:
    """The weights scored: a model, the spec of its run, their step, and the checkpoint they
    were loaded from (None for a model in training)."""

    model: Model
    spec: RunSpec
    step: int
    checkpoint: Path | None = None


@dataclass
class EvalOptions:
    reference: str = "test"  # "test", "train" (the run's data set) or a folder of images
    n: int = DEFAULT_N  # generated images for fid/kid/precision/recall (real: at most as many)
    extractor: str = "lenet"
    extractor_weights: str | None = None
    iw_samples: int | None = None  # K of an importance-weighted nll; None: the model's default
    batch_size: int = 256
    limit: int | None = None  # use only the first `limit` reference images
    seed: int = 0
    space: str = RUN_SPACE  # where quality metrics are computed: see `parse_space`
    fid_convention: str = DEFAULT_CONVENTION  # how images reach the extractor (`conventions`)
    progress: bool = False  # a bar on stderr while samples are drawn and scored
    # an iterative model's sampler, steps, eta, guidance (unset: its defaults)
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    notes: Callable[[str], None] | None = None  # told the cost of the work before it starts
    n_default: bool = False  # ``n`` was not chosen by the user (the cost note says so)
    reference_stats: str | None = None  # a `gen stats` file: fid against it, not images
    floor: bool = False  # also score the reference against itself (`gen.evaluation.floor`)

    def __post_init__(self) -> None:
        """Every count, seed and name checked before any work (`gen.arguments`)."""
        self.n = whole(self.n, "n")
        self.batch_size = whole(self.batch_size, "batch_size")
        self.limit = optional_whole(self.limit, "limit")
        self.iw_samples = optional_whole(self.iw_samples, "iw_samples")
        self.seed = seed(self.seed)
        for name in ("reference", "extractor_weights", "reference_stats"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):  # a Path: as its text
                setattr(self, name, value := os.fspath(value))
            if value is not None and not isinstance(value, str):
                raise UsageError(f"{name}: expected a path, got {value!r:.60}")
        for name in ("extractor", "space", "fid_convention"):
            text(getattr(self, name), name)
        flag(self.floor, "floor")
        flag(self.progress, "progress")
        if self.notes is not None and not callable(self.notes):
            raise UsageError(f"notes: expected a function of one line of text (print, say), "
                             f"got {self.notes!r:.60}")
