"""`Run`: a run directory in Python, read through the same code every command uses.

`gen.load_run(path)` returns one; so does `gen.train(...)`. Creating it reads spec.json only; the
model is built on first use of `Run.model`, on the device asked for. A `Run` never needs the
run's lock and writes nothing but the records `evaluate` appends to metrics.jsonl, so it may be
opened while the run is still training (what it reads is what is on disk when asked). It sits
above the storage of `gen.run` and the scoring of `gen.evaluation`, which it joins, so neither
needs the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from gen import specs
from gen.arguments import flag, optional_whole, whole
from gen.device import check_device_name, resolve_device
from gen.errors import CheckpointError, UsageError
from gen.handle_drawing import Drawing
from gen.model import Model
from gen.paths import user_path
from gen.plugin_code import plugin_code
from gen.plugins import Plugins, get_plugins
from gen.registry import ModelInfo
from gen.restore import restore_model
from gen.run.checkpoints import find_checkpoint, linked_step, load_checkpoint
from gen.run.layout import STEP_FILE, RunDir
from gen.run.metrics_log import read_metrics
from gen.run.resume import spec_differences
from gen.sampling_options import SamplingOptions


class Run(Drawing):
    """One run directory: its spec, checkpoints, metrics and model.

    ``checkpoint`` picks the weights `model`, `sample`, `evaluate` and `encode` use: ``"latest"``
    (default), ``"best"`` (kept by ``train.eval_every``) or a step number. ``device`` is where
    the model is built: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda:1"``...
    """

    def __init__(self, path: str | Path, checkpoint: str | int = "latest", device: str = "auto",
                 plugins: Plugins | None = None):
        if not isinstance(checkpoint, str):
            checkpoint = whole(checkpoint, "checkpoint ('latest', 'best' or a step number)", 0)
        check_device_name(device)
        self.dir = RunDir(user_path(path, "path"))
        raw = self.dir.read_spec()
        model = raw.get("model")
        name = model.get("name") if isinstance(model, dict) else None
        if not isinstance(name, str):
            raise CheckpointError(f"{self.dir.spec_path}: no model.name in it")
        self.name: str = name
        self._raw_spec = raw
        self._which = str(checkpoint)
        self._device = device
        self._plugins = plugins

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, model={self.name!r})"

    @property
    def path(self) -> Path:
        return self.dir.root

    @cached_property
    def model_info(self) -> ModelInfo:
        """The registered model this run was trained with, from the plugin run.json records
        (never another plugin that registers the same name); it must be installed."""
        plugin = self.info.get("plugin")
        registry = (self._plugins or get_plugins()).registry
        return registry.get_trained(self.name, plugin if isinstance(plugin, str) else None,
                                    self.path)

    @cached_property
    def spec(self) -> specs.RunSpec:
        """The resolved spec in spec.json, validated by the model's family."""
        return specs.validate(self.model_info.spec_class(), self._raw_spec,
                              source=str(self.dir.spec_path), known_data=False)

    @property
    def info(self) -> dict[str, Any]:
        """run.json: model, plugin and versions, device, process count, data shape."""
        return self.dir.read_info()

    @property
    def checkpoints(self) -> dict[int, Path]:
        """Step-numbered checkpoint files, oldest first."""
        return self.dir.step_checkpoints()

    @property
    def sample_grids(self) -> dict[int, Path]:
        """The sample grids written during training, oldest first."""
        return self.dir.sample_grids()

    @property
    def best(self) -> dict[str, Any] | None:
        """The evaluation record that made ``checkpoints/best.pt`` the best: metric, value,
        step, seed and how it was measured (for sample quality: n, real n, extractor and its
        hash, FID convention, sampler; older runs kept only the extractor); None for
        a run without one (it is kept by ``train.eval_every``). A damaged best.pt is a
        `CheckpointError`."""
        path = self.dir.checkpoints / "best.pt"
        if not path.is_file():
            return None
        ckpt = load_checkpoint(path)
        best = ckpt.get("best")
        return {**best, "step": ckpt["step"]} if isinstance(best, dict) else {"step": ckpt["step"]}

    def checkpoint(self) -> Path:
        """The checkpoint file this Run reads (``checkpoint`` given when it was opened); once
        `model` is loaded, the file its weights came from."""
        if "model" in self.__dict__:
            return self._checkpoint
        return find_checkpoint(self.dir, self._which)

    @property
    def step(self) -> int:
        """The step of the weights this Run reads; 0 for a run without a checkpoint yet."""
        if "model" in self.__dict__:
            return self._step
        if not self.dir.has_checkpoints() and self._which == "latest":
            return 0
        path = self.checkpoint()
        if (m := STEP_FILE.match(path.name)) is not None:
            return int(m.group(1))
        if path.name == "latest.pt" and (step := linked_step(self.dir)) is not None:
            return step
        return int(load_checkpoint(path)["step"])

    @cached_property
    def model(self) -> Model:
        """The model with the checkpoint's weights (their average, for a run trained with
        ``train.ema``: ``model.weights`` says which), in eval mode on this Run's device."""
        path = self.checkpoint()
        target = resolve_device(self._device)
        ckpt = load_checkpoint(path, map_location=target)
        if ckpt.get("model") != self.name:
            raise CheckpointError(f"{path} is a checkpoint of {ckpt.get('model')!r}, "
                                  f"not {self.name!r}")
        if isinstance(ckpt.get("spec"), dict):  # spec.json edited since: data would not fit
            changed = spec_differences(self.spec, ckpt["spec"], ckpt["step"])
            if changed:
                raise CheckpointError(
                    f"{self.dir.spec_path} no longer matches the spec {path} was trained with: "
                    + "; ".join(f"{k} {what}" for k, what in changed)
                    + ". Put the trained values back in spec.json")
        model = restore_model(self.model_info, self.spec.model, ckpt, path, target)
        self._step, self._checkpoint = int(ckpt["step"]), path
        return model

    def plugin_code(self, where: str):
        """Around a call into the model's code: what it raises is a `PluginError` naming the
        model and its plugin, what it prints goes to stderr (see `gen.plugin_code`)."""
        return plugin_code(self.name, self.model_info.plugin, where)

    def metrics(self) -> list[dict[str, Any]]:
        """metrics.jsonl, one dict per line: training logs (step, losses, images_per_s,
        elapsed_s) and evaluation records (step, evaluation)."""
        return read_metrics(self.dir.metrics_path)

    def evaluate(self, metrics: str | Sequence[str] | None = None, *, n: int | None = None,
                 reference: str = "test", space: str = "run", extractor: str = "lenet",
                 extractor_weights: str | None = None, fid_convention: str = "torch-fidelity",
                 reference_stats: str | None = None, floor: bool = False,
                 iw_samples: int | None = None,
                 batch_size: int = 256, limit: int | None = None, seed: int = 0,
                 record: bool = True, progress: bool = False, sampler: str | None = None,
                 steps: int | None = None, eta: float | None = None,
                 guidance: float | None = None, truncation: float | None = None,
                 notes: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
        """Score the weights on ``metrics`` (``"nll,fid"``, a list, or None for all the model
        supports): metric name -> the record `gen evaluate --json` prints (value, unit,
        estimator, images, extractor, ...). With ``record`` the records are also appended to
        metrics.jsonl; ``progress`` shows a bar on a terminal while samples are scored.
        ``sampler``, ``steps``, ``eta``, ``guidance`` draw an iterative model's samples (None:
        its defaults), ``truncation`` those of a model with a truncatable latent; the records
        of fid, kid, precision and recall carry the settings used under ``sampling``.
        ``notes`` is called with each line `gen evaluate` prints before it starts (the network
        calls an iterative model will make). ``n`` None is the default, 10,000 generated
        images. ``fid_convention`` is how images reach a fixed-size extractor
        (``"torch-fidelity"`` or ``"clean-fid"``), recorded with every quality score.
        ``reference_stats``: a `gen stats` file that fid is scored against instead of images;
        ``floor``: each quality record also holds the reference's score against itself, under
        ``floor``. A score beside earlier ones in metrics.jsonl at another n is a `GenWarning`.
        The options are those of `gen evaluate`."""
        # torchmetrics and the extractors, when scoring
        from gen.evaluation.comparability import warn_mixed_n
        from gen.evaluation.evaluate import evaluate, record_evaluations
        from gen.evaluation.options import DEFAULT_N, EvalOptions, Subject

        names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else metrics
        if names is not None and (isinstance(names, bytes) or not isinstance(names, Sequence)
                                  or not all(isinstance(m, str) for m in names)):
            raise UsageError(f"metrics: expected names such as 'fid' or 'nll,fid', got "
                             f"{metrics!r:.60}")
        options = EvalOptions(reference=reference, n=DEFAULT_N if n is None else n,
                              n_default=n is None, extractor=extractor,
                              extractor_weights=extractor_weights, iw_samples=iw_samples,
                              batch_size=batch_size, limit=limit, seed=seed, space=space,
                              fid_convention=fid_convention, reference_stats=reference_stats,
                              floor=floor, progress=progress,
                              sampling=SamplingOptions(sampler, steps, eta, guidance,
                                                       truncation),
                              notes=notes)
        if flag(record, "record"):  # a link where records go: refused before the scoring
            self.dir.check_links()
        subject = Subject(self.model, self.spec, self.step, self.checkpoint())
        history = self.metrics()  # before this evaluation's records join it
        with self.plugin_code("the evaluation"):
            records = evaluate(subject, None if names is None else [m for m in names if m],
                               options)
        warn_mixed_n(history, records)
        if record:
            record_evaluations(self.dir, subject.step, records)
        return {r["metric"]: r for r in records}

    def encode(self, split: str = "test", limit: int | None = None,
               batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A latent-variable model's posterior means of a data split, (N, latent_dim) float on
        the CPU, and the images' labels (None for unlabelled data)."""
        from gen.capabilities import require
        from gen.data.datasets import held_out, load_dataset
        from gen.latent import encode_all

        if split not in ("test", "train"):
            raise UsageError(f"split: expected 'test' or 'train', got {split!r:.60}")
        limit = optional_whole(limit, "limit")
        batch_size = whole(batch_size, "batch_size")
        require(self.model, "encode", "encoding")
        data = load_dataset(held_out(self.spec.data, split, limit))
        with self.plugin_code("encode"):
            return encode_all(self.model, data, batch_size), data.labels


def load_run(path: str | Path, checkpoint: str | int = "latest", device: str = "auto") -> Run:
    """Open the run directory ``path`` (a `Run`); see `Run` for ``checkpoint`` and
    ``device``. Raises `gen.CheckpointError` if ``path`` is not a gen run."""
    return Run(path, checkpoint, device)
