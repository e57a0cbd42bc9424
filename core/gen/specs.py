"""Specs: the one JSON format every family is configured with.

A run spec has three sections: ``model`` (the family's own pydantic class, tagged by a literal
``name``), ``data`` and ``train`` (owned by the core). Validation takes two steps: the family is
found by name, then the whole spec is validated against that family's class, so an error names the
exact field (``model.latent_dim: Input should be greater than 0 (got -3)``).

Nothing here imports torch.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)

from gen.errors import SpecError
from gen.spec_base import StrictSpec, render_errors
from gen.spec_json import TOO_DEEP, apply_overrides
from gen.train_options import EMASpec, LRScheduleSpec


class OptimizerSpec(StrictSpec):
    """An optimizer and its hyper-parameters; families set paper defaults."""

    name: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    lr: float = Field(2e-4, gt=0)
    betas: tuple[float, float] = Field((0.9, 0.999), description="adam/adamw only")
    momentum: float = Field(0.0, ge=0, description="sgd/rmsprop only")
    weight_decay: float = Field(0.0, ge=0)

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("each beta must be in [0, 1)")
        return v

    def build(self, params: Any) -> Any:
        """Create the torch optimizer over ``params``."""
        import torch

        if self.name in ("adam", "adamw"):
            cls = torch.optim.Adam if self.name == "adam" else torch.optim.AdamW
            return cls(params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)
        if self.name == "rmsprop":
            return torch.optim.RMSprop(
                params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
            )
        return torch.optim.SGD(
            params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )


class ModelSpec(StrictSpec):
    """Base of a family's spec. Subclasses narrow ``name`` to a ``Literal`` tag.

    ``data_defaults`` / ``train_defaults`` let a family change core defaults (a 28x28 MLP, a
    binarised data set) without the user having to; the user's spec still wins.
    """

    name: str
    data_defaults: ClassVar[dict[str, Any]] = {}
    train_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def data_defaults_for(cls, model: Mapping[str, Any]) -> dict[str, Any]:
        """The data defaults for a spec whose ``model`` section is ``model`` (raw, before
        validation): ``data_defaults`` unless a field of the model changes them (gen-gan's
        mlp backbone defaults to 28x28 images, its convolutional ones to 32x32)."""
        return cls.data_defaults

    @classmethod
    def upgrade(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """A whole raw spec (the user's, spec.json or a checkpoint's) in this version's terms,
        before validation: a family that moved or renamed a field rewrites older specs here, so
        older runs still load and resume (gen-gan moves ``model.ema_decay`` to ``train.ema``)."""
        return raw

    def needs_labels(self) -> str | None:
        """The field that makes this model train on class labels, where a spec field does
        (gen-gan's ``model.conditioning``), as ``"FIELD=VALUE"``; None otherwise. A model
        registered as conditional needs them whatever this says. Asked before any data is
        decoded, so unlabelled data is refused before the run starts."""
        return None

    def check_data(self, data: DataSpec) -> list[tuple[str, str]]:
        """Problems with combining this model and ``data`` (or fields of the model with each
        other), as (dotted path, message) pairs."""
        return []


DATASETS = ("bundled-mnist", "mnist", "fashion-mnist", "cifar10", "image-folder")


class DataSpec(StrictSpec):
    """Which images to train on, how to shape them and how to read them."""

    dataset: str = Field(
        "bundled-mnist",
        description="a registered data set (`gen list-datasets`): bundled-mnist ships with gen "
        "(MNIST's test split, offline); mnist, fashion-mnist, cifar10, svhn, stl10 and celeba "
        "are read from `root` in torchvision's layout; image-folder and npz are your own files",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="the data set's own options (e.g. image-folder's "
        "crop), validated by the data set; `gen list-datasets` names the data sets that take any"
    )
    root: str | None = Field(
        None, validate_default=True, description="where the data lives; default "
        "~/.cache/gen/data (required for image-folder and npz)"
    )
    split: Literal["train", "test"] = "train"
    download: bool = Field(False, description="let torchvision download missing files")
    image_size: int = Field(32, ge=4, le=1024, description="images are resized to this square size")
    channels: Literal[1, 3] | None = Field(
        None, description="convert to 1 (grey) or 3 (RGB) channels; default: the data set's own"
    )
    limit: int | None = Field(None, gt=0, description="use only the first `limit` images")
    binarize: Literal["none", "static", "dynamic"] = Field(
        "none",
        description="pixels become 0/255 with probability = intensity: once with a fixed seed "
        "(static) or anew for every batch (dynamic; evaluation then uses the static draw)",
    )
    hflip: bool = Field(
        False, description="flip each training image left-right with probability 1/2 (for "
        "likelihood models this changes the modelled distribution to the flipped-symmetric one)"
    )
    storage: Literal["auto", "memory", "stream"] = Field(
        "auto", description="memory: the decoded images in one tensor on the device; stream: "
        "decoded once into a cache file under $GEN_CACHE/data, read batch by batch; auto: "
        "memory when the decoded set fits memory_budget_mb, else stream"
    )
    memory_budget_mb: int = Field(
        2048, gt=0, description="the largest decoded set (MiB) that storage=auto keeps in memory"
    )
    workers: int = Field(
        2, ge=0, le=64, description="processes that decode images (the first pass) and read "
        "streamed batches; 0 does both in the training process"
    )

    @field_validator("root")
    @classmethod
    def _folder_needs_root(cls, v: str | None, info: ValidationInfo) -> str | None:
        name = str(info.data.get("dataset", "")).rpartition(":")[2]  # PLUGIN:NAME too
        needs = _NEEDS_ROOT.get(name)
        if v is None and needs:
            raise ValueError(f"{name} needs data.root, {needs}")
        if v is not None and not v.strip():  # Path("") is the current folder: never a guess
            default = "" if needs else "; leave it out for the default, ~/.cache/gen/data"
            raise ValueError(f"is empty; name a folder ('.' for the current one){default}")
        return v


_NEEDS_ROOT = {"image-folder": "the folder of images",
               "npz": "the .npz file (or a folder of train.npz and test.npz)"}


# Images the eval metrics need at least: precision/recall's K + 1 (gen.evaluation.metrics.
# precision_recall.K), the IS's splits (inception_score.SPLITS). Those modules import torch,
# which spec validation does not; test_specs keeps the numbers equal.
NEIGHBOURS_K = 3
IS_SPLITS = 10
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")  # what gen.device.resolve_device takes


class TrainSpec(StrictSpec):
    """The core's training loop: length, batching, seeding, cadence and where output goes."""

    steps: int = Field(10_000, gt=0, description="optimisation steps of the whole model")
    batch_size: int = Field(64, gt=0)
    seed: int = Field(0, ge=0)
    device: str = Field("auto", description="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    log_every: int = Field(50, gt=0, description="steps between metrics.jsonl lines")
    sample_every: int = Field(500, gt=0, description="steps between sample grids")
    checkpoint_every: int = Field(1000, gt=0, description="steps between checkpoints")
    keep_checkpoints: int | None = Field(
        None, gt=0, description="keep only the newest N step-numbered checkpoints (default all)"
    )
    num_samples: int = Field(64, gt=0, le=1024, description="images in each sample grid")
    eval_every: int | None = Field(
        None, gt=0, description="steps between evaluations of eval_metric on the held-out test "
        "part, logged to metrics.jsonl; the best checkpoint is kept as checkpoints/best.pt "
        "(default: never)"
    )
    eval_metric: Literal["fid", "kid", "precision", "recall", "is", "nll", "elbo", "probe"] = (
        Field("fid", description="what eval_every measures; lower is better for fid, kid, nll "
              "and elbo, higher for precision, recall, is (Inception Score: needs an extractor "
              "with class logits) and probe")
    )
    eval_n: int = Field(
        2000, gt=1, description="images generated per evaluation (fid, kid, precision, recall, "
        "is), scored against at most as many held-out images"
    )
    eval_extractor: str = Field(
        "lenet", description="feature extractor for fid, kid, precision, recall and is"
    )
    trackers: list[str | dict[str, Any]] | None = Field(
        None, description="experiment trackers (`gen list-trackers`): names, or objects of a "
        "name and the tracker's options, e.g. [\"mlflow\", {\"name\": \"wandb\", "
        "\"project\": \"mnist\"}]; checked and completed with their defaults in spec.json. "
        "Default: tensorboard when its extra is installed; [] for none"
    )
    out: str | None = Field(None, description="run directory; default runs/<model>-<dataset>")
    max_time: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="a wall-clock budget: stop once this much time has passed since the first "
        "step, with a checkpoint and a sample grid as Ctrl-C does (exit code 0) "
        "and a `stopped` record in metrics.jsonl; seconds (300) or \"HH:MM:SS\" / \"MM:SS\". "
        "Each `gen train` (or --resume) gets the whole budget: set it below a job scheduler's "
        "time limit, and resume in the next job"
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="fp32, or autocast to bf16 or fp16 (fp16 adds loss scaling); "
        "bf16 pays off on GPUs with bf16 tensor cores, rarely on CPUs"
    )
    compile: bool = Field(
        False, description="torch.compile every network of the model (the first steps then "
        "take longer while kernels are built)"
    )
    channels_last: bool = Field(
        False, description="keep images and conv weights in channels-last memory order, the "
        "layout GPU tensor cores prefer for convolutions"
    )
    grad_clip: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="clip the gradient norm of each "
        "optimizer's update to this before it steps (torch.nn.utils.clip_grad_norm_; DDPM "
        "used 1); grad_norm/<optimizer> logs the norm before clipping. Default: no clipping"
    )
    ema: EMASpec | None = Field(
        None, description="an exponential moving average of the weights the model samples "
        "with ({\"decay\": 0.999}); samples and scores then use it (default: off, or the "
        "model's own default)"
    )
    lr_schedule: LRScheduleSpec = Field(
        default_factory=LRScheduleSpec, description="the learning-rate schedule of every "
        "optimizer, on torch's lr_scheduler; lr/<optimizer> is in every log line"
    )
    lr_schedules: dict[str, LRScheduleSpec] = Field(
        default_factory=dict, description="a schedule of its own for the optimizers named "
        "(e.g. {\"discriminator\": {\"name\": \"constant\"}}), overriding lr_schedule"
    )

    def pinned(self) -> TrainSpec:
        """This section with every decaying schedule's ``total_steps`` set (to ``steps`` where
        it was null), as a run records it: ``train.steps`` may change on --resume, and the
        decay must not change course with it (a cosine that ended at step 100 would jump back
        to its middle when a run is extended to 200)."""
        def pin(schedule: LRScheduleSpec) -> LRScheduleSpec:
            if schedule.name == "constant" or schedule.total_steps is not None:
                return schedule
            return schedule.model_copy(update={"total_steps": self.steps})

        return self.model_copy(update={
            "lr_schedule": pin(self.lr_schedule),
            "lr_schedules": {k: pin(v) for k, v in self.lr_schedules.items()}})

    def check(self) -> list[tuple[str, str]]:
        """Problems between fields of this section, as (dotted path, message) pairs."""
        problems = []
        named = [("train.lr_schedule", self.lr_schedule)] + [
            (f"train.lr_schedules.{k}", v) for k, v in self.lr_schedules.items()]
        for path, schedule in named:
            if schedule.warmup_steps > self.steps:
                problems.append((f"{path}.warmup_steps", f"{schedule.warmup_steps} warm-up "
                                 f"steps exceed train.steps ({self.steps}): the rate would "
                                 "never reach the optimizer's lr"))
            if schedule.total_steps is not None and schedule.warmup_steps >= schedule.total_steps:
                problems.append((f"{path}.total_steps", f"{schedule.total_steps} must exceed "
                                 f"{path}.warmup_steps ({schedule.warmup_steps})"))
        return problems

    @field_validator("eval_n")
    @classmethod
    def _enough_for_neighbours(cls, v: int, info: ValidationInfo) -> int:
        # precision and recall find each image's k = 3 nearest neighbours among the others
        metric, k = info.data.get("eval_metric"), NEIGHBOURS_K
        if metric in ("precision", "recall") and v < k + 1:
            raise ValueError(f"{metric} needs at least {k + 1} images (each one's {k} nearest "
                             "neighbours)")
        if metric == "is" and v < IS_SPLITS:
            raise ValueError(f"is splits the images into {IS_SPLITS}; needs at least {IS_SPLITS}")
        return v

    @field_validator("max_time", mode="before")
    @classmethod
    def _clock_time(cls, v: Any) -> Any:
        """\"HH:MM:SS\" or \"MM:SS\" (a job scheduler's notation) -> seconds."""
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                return clock_seconds(v)
        return v

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        if not DEVICE.match(v):
            raise ValueError("expected auto, cpu, mps, cuda or cuda:N")
        return v


_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)")


def clock_seconds(text: str) -> float:
    """Seconds of ``"HH:MM:SS"`` or ``"MM:SS"``: seconds below 60, and minutes too when hours
    are given (``"90:00"`` is 90 minutes, as job schedulers read it)."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected seconds (300) or HH:MM:SS (00:05:00), got {text!r}")
    hours, minutes, seconds = int(match[1] or 0), int(match[2]), float(match[3])
    if (match[1] is not None and minutes >= 60) or seconds >= 60:
        raise ValueError(f"{text!r}: minutes and seconds must be below 60")
    return hours * 3600 + minutes * 60 + seconds


class RunSpec(StrictSpec):
    """A whole run spec; `run_spec_class` derives one per family with its model class."""

    model: ModelSpec
    data: DataSpec = DataSpec()
    train: TrainSpec = TrainSpec()



# Train settings that may change when a run is resumed (its length and cadence, not its maths).
RESUMABLE_OVERRIDES = (
    "train.steps", "train.log_every", "train.sample_every", "train.checkpoint_every",
    "train.keep_checkpoints", "train.device", "train.eval_every", "train.compile",
    "train.channels_last", "train.max_time", "train.trackers", "data.storage", "data.workers",
    "data.memory_budget_mb",
)


@functools.cache
def run_spec_class(model_spec: type[ModelSpec]) -> type[RunSpec]:
    """The run spec class of one family: ``RunSpec`` with ``model`` narrowed to its class (one
    class per family, so specs of one family compare equal)."""
    return create_model(
        f"{model_spec.__name__}Run",
        __base__=RunSpec,
        model=(model_spec, Field(default_factory=model_spec)),
    )


def default_spec(model_spec: type[ModelSpec]) -> dict[str, Any]:
    """The complete default spec of a family as plain JSON data."""
    return validate(model_spec, {}).model_dump(mode="json")


def json_schema(model_spec: type[ModelSpec]) -> dict[str, Any]:
    return run_spec_class(model_spec).model_json_schema()


def validate(
    model_spec: type[ModelSpec],
    raw: dict[str, Any],
    overrides: Sequence[str] = (),
    source: str | None = None,
    known_data: bool = True,
) -> RunSpec:
    """Validate ``raw`` (plus ``--set`` style overrides) as a run of ``model_spec``'s family.
    ``known_data`` False accepts a data set that is not registered here (an existing run opened
    to sample, which needs no data; loading its data would report the name)."""
    if not isinstance(raw, dict):
        raise SpecError([("", f"expected a JSON object, got {type(raw).__name__}")], source)
    try:
        return _validate(model_spec, raw, overrides, source, known_data)
    except RecursionError:  # a value nested deeper than Python's stack (copying, validating)
        raise SpecError([("", TOO_DEEP)], source) from None


def _validate(model_spec: type[ModelSpec], raw: dict[str, Any], overrides: Sequence[str],
              source: str | None, known_data: bool) -> RunSpec:
    raw = copy.deepcopy(raw)
    apply_overrides(raw, overrides)
    family = model_spec.model_fields["name"].default
    model = raw.setdefault("model", {})
    if isinstance(model, dict):
        if model.get("name", family) != family:
            raise SpecError(
                [("model.name", f"this spec is for {model['name']!r}, not {family!r}")], source
            )
        model["name"] = family
    raw = model_spec.upgrade(raw)
    model = raw.get("model")
    data_defaults = model_spec.data_defaults_for(model if isinstance(model, dict) else {})
    layered = _merge({"data": data_defaults, "train": model_spec.train_defaults}, raw)
    try:
        spec = run_spec_class(model_spec).model_validate(layered)
    except ValidationError as exc:
        raise SpecError(render_errors(exc), source) from None
    problems = spec.train.check() + spec.model.check_data(spec.data)
    if problems:
        raise SpecError(problems, source)
    from gen.spec_plugins import check_plugin_parts  # plugins' own option classes

    check_plugin_parts(spec, source, known_data)
    return spec


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``top`` over ``base`` (dicts only; ``top`` wins)."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
