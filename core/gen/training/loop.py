"""The step-based training loop owned by the core.

The family owns one optimisation step; this loop owns the rest: devices, seeding, data, cadence
of logs, sample grids, evaluations and checkpoints, resuming, and stopping cleanly on Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from gen.data.datasets import load_dataset
from gen.data.info import DataInfo
from gen.data.loader import BatchStream
from gen.errors import CheckpointError, DataError, GenError, TrainingError
from gen.images import save_grid
from gen.model import Model
from gen.registry import ModelInfo
from gen.specs import RunSpec
from gen.training.checkpoint import (
    drop_best_after,
    find_checkpoint,
    load_checkpoint,
    rng_state,
    save_best,
    save_checkpoint,
    set_rng_state,
)
from gen.training.metrics_log import MetricsLog, truncate_after
from gen.training.progress import ProgressView
from gen.training.rundir import RunDir


@dataclass
class TrainResult:
    run: RunDir
    step: int
    interrupted: bool
    checkpoint: Path | None
    sample: Path | None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; asking for an absent device is an error."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenError(f"train.device is {name!r} but no CUDA device is available")
    if name == "mps" and not has_mps:
        raise GenError("train.device is 'mps' but MPS is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:
        return
    np.random.seed(seed)


def build_model(info: ModelInfo, spec: RunSpec, data: DataInfo) -> Model:
    return info.model_class()(spec.model, data)


class Trainer:
    """Trains one run of one model into a run directory."""

    def __init__(
        self,
        info: ModelInfo,
        spec: RunSpec,
        run: RunDir,
        console: Console | None = None,
        show_progress: bool = True,
    ):
        self.info = info
        self.spec = spec
        self.run = run
        self.console = console or Console(stderr=True)
        self.show_progress = show_progress

    def train(self, resume: bool = False) -> TrainResult:
        tr = self.spec.train
        if not resume and self.run.has_checkpoint():
            raise GenError(
                f"{self.run.root} already holds a run: pass --resume to continue it, or --out "
                "to start a new one elsewhere"
            )
        ckpt = load_checkpoint(find_checkpoint(self.run)) if resume else None
        device = resolve_device(tr.device)
        seed_everything(tr.seed)
        data = load_dataset(self.spec.data)
        if self.info.conditional and data.info.num_classes is None:
            raise DataError(
                f"{self.info.name} is conditional and needs class labels, but the "
                f"{data.info.name} data has none (for image-folder: one sub-folder per class)"
            )
        model = build_model(self.info, self.spec, data.info).to(device)
        self.run.prepare()
        stream = BatchStream(data, tr.batch_size, tr.seed, device)
        step = self._restore(ckpt, model, stream) if ckpt is not None else 0
        # Lines logged after the checkpoint (or by a run that died before its first) go, and so
        # does a best.pt from those steps: the run does them again.
        truncate_after(self.run.metrics_path, step)
        best = drop_best_after(self.run, step)
        evaluator = self._evaluator(model, best) if tr.eval_every else None
        self._write_run_files(data.info, device)
        log = MetricsLog(self.run.metrics_path, self.run.tensorboard)
        self.console.print(
            f"{self.info.name} on {data.info.name} ({data.info.num_images} images, "
            f"{data.info.channels}x{data.info.image_size}x{data.info.image_size}), device "
            f"{device}, {'resuming at step ' + str(step) if step else 'from scratch'} -> "
            f"{self.run.root}",
            markup=False, highlight=False,
        )
        last_ckpt = last_sample = None
        saved_at = sampled_at = step
        try:
            with _stop_requests() as stop, ProgressView(
                tr.steps, step, self.console, self.show_progress
            ) as view:
                t0, images0, tick = time.perf_counter(), stream.images_drawn, time.perf_counter()
                while step < tr.steps and not stop.is_set():
                    losses = model.train_step(stream)
                    step += 1
                    view.advance(step)
                    checkpoint_now = step % tr.checkpoint_every == 0
                    if step % tr.log_every == 0 or checkpoint_now or step == tr.steps:
                        _check_finite(losses, step, last_ckpt)
                    if step % tr.log_every == 0 or step == tr.steps:
                        now = time.perf_counter()
                        record = {
                            "step": step,
                            **{k: float(v) for k, v in losses.items()},
                            "images_per_s": (stream.images_drawn - images0) / (now - tick),
                            "elapsed_s": now - t0,
                        }
                        log.write(record)
                        view.status(record)
                        tick, images0 = now, stream.images_drawn
                    if step % tr.sample_every == 0:
                        last_sample, sampled_at = self._sample(model, step), step
                    if evaluator is not None and step % tr.eval_every == 0:
                        self._evaluate(evaluator, model, stream, data.info, step, log)
                    if checkpoint_now:
                        last_ckpt = self._checkpoint(model, stream, data.info, step)
                        saved_at = step
            if saved_at != step:
                _check_finite(losses, step, last_ckpt)
                last_ckpt = self._checkpoint(model, stream, data.info, step)
            if sampled_at != step:
                last_sample = self._sample(model, step)
        finally:
            log.close()
        interrupted = step < tr.steps
        if interrupted:
            self.console.print(
                f"stopped at step {step}; checkpoint written. Continue with "
                f"`gen train {self.info.name} --out {self.run.root} --resume`.",
                markup=False, highlight=False,
            )
        return TrainResult(self.run, step, interrupted, last_ckpt, last_sample)

    def _restore(self, ckpt: dict[str, Any], model: Model, stream: BatchStream) -> int:
        if ckpt.get("model") != self.info.name:
            raise CheckpointError(
                f"the checkpoint in {self.run.checkpoints} is of model {ckpt.get('model')!r}, "
                f"not {self.info.name!r}"
            )
        try:
            model.load_state_dict(ckpt["state"])
            stream.load_state_dict(ckpt["data"])
            set_rng_state(ckpt["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"the checkpoint in {self.run.checkpoints} does not fit this model: {exc}"
            ) from None
        return int(ckpt["step"])

    def _payload(self, model: Model, stream: BatchStream, info: DataInfo) -> dict[str, Any]:
        return {
            "model": self.info.name,
            "spec": self.spec.model_dump(mode="json"),
            "data_info": info.as_dict(),
            "state": model.state_dict(),
            "data": stream.state_dict(),
            "rng": rng_state(),
        }

    def _checkpoint(self, model: Model, stream: BatchStream, info: DataInfo, step: int) -> Path:
        payload = self._payload(model, stream, info)
        return save_checkpoint(self.run, step, payload, self.spec.train.keep_checkpoints)

    def _evaluator(self, model: Model, best: dict[str, Any] | None):
        from gen.training.periodic_eval import PeriodicEvaluator  # torchmetrics, extractors

        tr = self.spec.train
        if best is not None and best.get("metric") != tr.eval_metric:
            best = None  # scored on another metric: not comparable
        return PeriodicEvaluator(self.spec, model, None if best is None else best["value"])

    def _evaluate(self, evaluator, model: Model, stream: BatchStream, info: DataInfo, step: int,
                  log: MetricsLog) -> None:
        """Score the weights of ``step``; keep them as best.pt if they beat the best so far."""
        record = evaluator.evaluate(model, step)
        log.write({"step": step, f"eval_{record['metric']}": record["value"],
                   "evaluation": record})
        if evaluator.improves(record["value"]):
            evaluator.best = record["value"]
            best = {k: record[k] for k in ("metric", "value", "step", "seed")}
            best.update({k: record[k] for k in ("extractor", "extractor_hash") if k in record})
            save_best(self.run, self._payload(model, stream, info), best)

    def _sample(self, model: Model, step: int) -> Path:
        # A fixed generator: every grid of a run shows the same latents, and the training RNG
        # stream is untouched, so sampling cadence never changes the trained weights.
        g = torch.Generator(device=model.device).manual_seed(self.spec.train.seed)
        images = model.sample(self.spec.train.num_samples, generator=g)
        return save_grid(images, self.run.sample_path(step))

    def _write_run_files(self, info: DataInfo, device: torch.device) -> None:
        self.run.write_json(self.run.spec_path, self.spec.model_dump(mode="json"))
        self.run.write_json(
            self.run.info_path,
            {
                "model": self.info.name,
                "kind": self.info.kind,
                "plugin": self.info.plugin,
                "plugin_version": self.info.version,
                "gen_version": _version("gen-core"),
                "torch_version": torch.__version__,
                "device": str(device),
                "data": info.as_dict(),
            },
        )


def _check_finite(losses: dict[str, torch.Tensor], step: int, last: Path | None) -> None:
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written"
            raise TrainingError(
                f"step {step}: loss {name!r} is {float(value)} (non-finite); training stopped, "
                f"{kept}. Try a lower learning rate."
            )


@contextmanager
def _stop_requests():
    """SIGINT/SIGTERM set an event the loop checks between steps, so the step in flight
    finishes and a consistent checkpoint is written. A second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
