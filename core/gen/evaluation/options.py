"""What an evaluation scores and how: the weights (`Subject`) and the options of `gen evaluate`
(`EvalOptions`), apart from the code that uses them so every part of the evaluation can name
them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
