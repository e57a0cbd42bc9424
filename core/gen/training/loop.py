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
from gen.distributed import World
from gen.errors import CheckpointError, DataError, GenError, TrainingError
from gen.images import save_grid
from gen.launch import launched_world_size, local_rank, stop_requested
from gen.model import Model
from gen.registry import ModelInfo
from gen.runtime import Runtime
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


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; asking for an absent device is an error.

    In a multi-process run (``local_rank`` given) each process on a machine takes its own GPU,
    ``cuda:LOCAL_RANK``.
    """
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenError(f"train.device is {name!r} but no CUDA device is available")
    if name == "mps" and not has_mps:
        raise GenError("train.device is 'mps' but MPS is not available")
    if local_rank is not None and name.startswith("cuda"):
        if name != "cuda":
            raise GenError(f"train.device is {name!r}, but in a multi-process run each process "
                           "takes cuda:LOCAL_RANK: use train.device=cuda or auto")
        if local_rank >= torch.cuda.device_count():
            raise GenError(f"process {local_rank} of this machine has no GPU of its own "
                           f"({torch.cuda.device_count()} visible): lower --nproc_per_node")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    if local_rank is not None and name == "mps":
        raise GenError("multi-process runs need CUDA (nccl) or the CPU (gloo), not mps")
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
        """Train from scratch or, with ``resume``, from the run's latest checkpoint. Under
        torchrun every process calls this; they join one process group for the run."""
        if not resume and self.run.has_checkpoint():
            raise GenError(
                f"{self.run.root} already holds a run: pass --resume to continue it, or --out "
                "to start a new one elsewhere"
            )
        ckpt = load_checkpoint(find_checkpoint(self.run)) if resume else None
        multi = launched_world_size() > 1
        device = resolve_device(self.spec.train.device, local_rank() if multi else None)
        world = World.join(device) if multi else None
        try:
            return self._train(ckpt, device, world)
        finally:
            if world is not None:
                world.close()

    def _train(self, ckpt: dict[str, Any] | None, device: torch.device,
               world: World | None) -> TrainResult:
        tr = self.spec.train
        main = world is None or world.is_main
        seed_everything(tr.seed)
        data = load_dataset(self.spec.data)
        if self.info.conditional and data.info.num_classes is None:
            raise DataError(
                f"{self.info.name} is conditional and needs class labels, but the "
                f"{data.info.name} data has none (for image-folder: one sub-folder per class)"
            )
        model = build_model(self.info, self.spec, data.info).to(device)
        _accelerate(model, self.spec, world)
        if main:
            self.run.prepare()
        stream = BatchStream(data, tr.batch_size, tr.seed, device,
                             rank=world.rank if world else 0, world_size=world.size if world else 1,
                             channels_last=tr.channels_last)
        step = self._restore(ckpt, model, stream, world) if ckpt is not None else 0
        if world is not None and ckpt is None:
            world.broadcast_modules(model.modules)
            _seed_rank(tr.seed, 0, world)
        log, best = self._open_log(step) if main else (None, None)
        evaluator = self._evaluator(model, best) if main and tr.eval_every else None
        if main:
            self._write_run_files(data.info, device, world)
            parallel = f" x {world.size} processes" if world else ""
            self.console.print(
                f"{self.info.name} on {data.info.name} ({data.info.num_images} images, "
                f"{data.info.channels}x{data.info.image_size}x{data.info.image_size}), device "
                f"{device}{parallel}, {'resuming at step ' + str(step) if step else 'from scratch'}"
                f" -> {self.run.root}",
                markup=False, highlight=False,
            )
        last_ckpt = last_sample = None
        saved_at = sampled_at = step
        try:
            with _stop_requests() as stop, ProgressView(
                tr.steps, step, self.console, self.show_progress and main
            ) as view:
                t0, images0, tick = time.perf_counter(), stream.images_drawn, time.perf_counter()
                while step < tr.steps and not _agreed(stop.is_set(), world):
                    with model.runtime.autocast():
                        losses = model.train_step(stream)
                    step += 1
                    view.advance(step)
                    checkpoint_now = step % tr.checkpoint_every == 0
                    if step % tr.log_every == 0 or checkpoint_now or step == tr.steps:
                        losses = world.mean(losses) if world else losses
                        _check_finite(losses, step, last_ckpt)
                    if main and (step % tr.log_every == 0 or step == tr.steps):
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
                    if main and step % tr.sample_every == 0:
                        last_sample, sampled_at = self._sample(model, step), step
                    if evaluator is not None and step % tr.eval_every == 0:
                        self._evaluate(evaluator, model, stream, data.info, step, log)
                    if checkpoint_now:
                        last_ckpt = self._checkpoint(model, stream, data.info, step, world)
                        saved_at = step
            if saved_at != step:
                losses = world.mean(losses) if world else losses
                _check_finite(losses, step, last_ckpt)
                last_ckpt = self._checkpoint(model, stream, data.info, step, world)
            if main and sampled_at != step:
                last_sample = self._sample(model, step)
        finally:
            if log is not None:
                log.close()
        interrupted = step < tr.steps
        if interrupted and main:
            self.console.print(
                f"stopped at step {step}; checkpoint written. Continue with "
                f"`gen train {self.info.name} --out {self.run.root} --resume"
                f"{f' --nproc {world.size}' if world else ''}`.",
                markup=False, highlight=False,
            )
        return TrainResult(self.run, step, interrupted, last_ckpt, last_sample)

    def _open_log(self, step: int) -> tuple[MetricsLog, dict[str, Any] | None]:
        """The metrics log and the score of the best checkpoint so far, if any. Lines logged
        after the checkpoint (or by a run that died before its first) go, and so does a best.pt
        from those steps: the run does them again."""
        truncate_after(self.run.metrics_path, step)
        best = drop_best_after(self.run, step)
        return MetricsLog(self.run.metrics_path, self.run.tensorboard), best

    def _restore(self, ckpt: dict[str, Any], model: Model, stream: BatchStream,
                 world: World | None) -> int:
        if ckpt.get("model") != self.info.name:
            raise CheckpointError(
                f"the checkpoint in {self.run.checkpoints} is of model {ckpt.get('model')!r}, "
                f"not {self.info.name!r}"
            )
        try:
            model.load_state_dict(ckpt["state"])
            model.runtime.load_state_dict(ckpt.get("runtime", {}))
            stream.load_state_dict(ckpt["data"])
            step = int(ckpt["step"])
            ranks = ckpt.get("rng_ranks") or [ckpt["rng"]]
            size = world.size if world else 1
            if len(ranks) == size:
                set_rng_state(ranks[world.rank if world else 0])
            else:
                # Another process count than the checkpoint's: the data order is global and
                # carries over, but the random streams cannot.
                if world is None:
                    set_rng_state(ranks[0])
                else:
                    _seed_rank(self.spec.train.seed, step, world)
                if world is None or world.is_main:
                    self.console.print(
                        f"resuming on {size} process(es) a run checkpointed on {len(ranks)}: "
                        "random draws (noise, dropout) will differ from an uninterrupted run",
                        markup=False, highlight=False)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"the checkpoint in {self.run.checkpoints} does not fit this model: {exc}"
            ) from None
        return step

    def _payload(self, model: Model, stream: BatchStream, info: DataInfo) -> dict[str, Any]:
        return {
            "model": self.info.name,
            "spec": self.spec.model_dump(mode="json"),
            "data_info": info.as_dict(),
            "state": model.state_dict(),
            "runtime": model.runtime.state_dict(),
            "data": stream.state_dict(),
            "rng": rng_state(),
        }

    def _checkpoint(self, model: Model, stream: BatchStream, info: DataInfo, step: int,
                    world: World | None) -> Path | None:
        """Rank 0 writes the checkpoint; every process hands it its RNG state first."""
        ranks = world.gather(rng_state()) if world else None
        if world is not None and not world.is_main:
            return None
        payload = self._payload(model, stream, info)
        if ranks is not None:
            payload["rng_ranks"] = ranks
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

    def _write_run_files(self, info: DataInfo, device: torch.device,
                         world: World | None) -> None:
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
                "processes": world.size if world else 1,
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


def _accelerate(model: Model, spec: RunSpec, world: World | None) -> None:
    """Apply the run's speed settings: memory layout, precision and parallelism, compilation."""
    tr = spec.train
    if tr.channels_last:
        for module in model.modules.values():
            module.to(memory_format=torch.channels_last)
    model.runtime = Runtime(model.device, tr.precision, world)
    if tr.compile:
        for name, module in model.modules.items():
            if name not in model.eager_modules:
                module.compile()  # in place: parameter names (checkpoint keys) stay as they are


def _agreed(stop: bool, world: World | None) -> bool:
    """Whether to stop now: in a multi-process run, as soon as any process was asked to (by a
    signal or by `gen train --nproc`), so every process stops after the same step and one
    consistent checkpoint is written."""
    return world.any(stop or stop_requested()) if world is not None else stop


def _seed_rank(seed: int, step: int, world: World) -> None:
    """Give each process its own random stream (noise, dropout), reproducible from the seed."""
    seed_everything((seed * 1_000_003 + step) * 1_009 + world.rank + 1)


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
