"""The step-based training loop owned by the core.

The family owns one optimisation step; this loop owns the rest: devices, seeding, data, cadence
of logs, sample grids, evaluations and checkpoints, resuming, and stopping cleanly on Ctrl-C or
SIGTERM. It reads as `Trainer._setup`, `Trainer._steps`, `Trainer._finish`; the run directory
itself (layout, lock, files) belongs to `gen.run`.
"""

from __future__ import annotations

import shlex
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.text import Text

from gen.data.info import DataInfo
from gen.data.loader import BatchStream, StreamedBatches
from gen.data.storage import training_data
from gen.device import resolve_device
from gen.distributed import World
from gen.errors import CheckpointError, GenError, TrainingError
from gen.images import save_grid
from gen.launch import launched_world_size, local_rank, stop_requested
from gen.model import Model
from gen.plugin_code import plugin_code
from gen.registry import ModelInfo
from gen.run.checkpoints import best_until, save_best, save_checkpoint
from gen.run.layout import RunDir
from gen.run.lock import RunLock
from gen.run.metrics_log import MetricsLog, read_metrics, truncate_after
from gen.run.resume import resume_point
from gen.runtime import Runtime
from gen.seeding import rng_state, seed_everything, set_rng_state
from gen.specs import RunSpec
from gen.training.health import HealthMonitor
from gen.training.progress import ProgressView


@dataclass
class TrainResult:
    run: RunDir
    step: int
    interrupted: bool
    checkpoint: Path | None
    sample: Path | None
    out_of_time: bool = False  # stopped by train.max_time (a planned stop), not by a signal


def build_model(info: ModelInfo, spec: RunSpec, data: DataInfo) -> Model:
    return info.model_class()(spec.model, data)


@dataclass
class _Session:
    """What a run in progress holds, from `Trainer._setup` to the end of `Trainer.train`.
    Only the main process has a lock, a log and an evaluator."""

    model: Model
    stream: BatchStream | StreamedBatches
    data: DataInfo
    world: World | None
    step: int
    lock: RunLock | None
    log: MetricsLog | None = None
    evaluator: Any = None
    losses: dict[str, torch.Tensor] | None = None  # of the latest step
    checkpoint: Path | None = None
    sample: Path | None = None
    saved_at: int = 0
    sampled_at: int = 0
    out_of_time: bool = False
    health: HealthMonitor = field(default_factory=HealthMonitor)

    @property
    def main(self) -> bool:
        return self.world is None or self.world.is_main

    def close(self) -> None:
        if isinstance(self.stream, StreamedBatches):
            self.stream.close()
        if self.log is not None:
            self.log.close()
        if self.lock is not None:
            self.lock.release()


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
        self.run = run
        # The spec as recorded in spec.json and in checkpoints: trained into this folder.
        self.spec = spec.model_copy(
            update={"train": spec.train.model_copy(update={"out": str(run.root)})})
        self.console = console or Console(stderr=True)
        self.show_progress = show_progress

    def train(self, resume: bool = False) -> TrainResult:
        """Train from scratch or, with ``resume``, from the run's latest checkpoint. Under
        torchrun every process calls this; they join one process group for the run."""
        multi = launched_world_size() > 1
        device = resolve_device(self.spec.train.device, local_rank() if multi else None)
        world = World.join(device) if multi else None
        session = None
        try:
            session = self._setup(resume, device, world)
            self._steps(session)
            return self._finish(session)
        finally:
            if session is not None:
                session.close()
            if world is not None:
                world.close()

    # --- setup -------------------------------------------------------------------------------

    def _setup(self, resume: bool, device: torch.device, world: World | None) -> _Session:
        """Everything before the first step. Nothing is written until the checkpoint, spec,
        data and model are known good; then the main process claims the run folder."""
        main = world is None or world.is_main
        tr = self.spec.train
        if main:
            self.run.check_target(resume)
        seen = self.run.checkpoint_files() if resume else None  # before reading one of them
        ckpt = None
        if resume:
            ckpt, note = resume_point(self.run, self.spec)
            if note and main:
                self._say(note)
        info, stream, model = self._data_and_model(device, world)
        step = self._restore(ckpt, model, stream, world) if ckpt is not None else 0
        if world is not None and ckpt is None:
            world.broadcast_modules(model.modules)
            _seed_rank(tr.seed, 0, world)
        session = _Session(model, stream, info, world, step, lock=None,
                           saved_at=step, sampled_at=step)
        failed = None
        if main:
            try:
                self._take_outputs(session, resume, seen, device)
            except GenError as exc:
                failed = exc
        # Every process learns whether the main one could start, so none waits on it forever.
        if world is not None and world.any(failed is not None) and failed is None:
            raise TrainingError("process 0 could not start the run (its error is above)")
        if failed is not None:
            raise failed
        return session

    def _take_outputs(self, s: _Session, resume: bool, seen: list | None,
                      device: torch.device) -> None:
        """The main process: the evaluator (its checks of metric and extractor come before
        anything is written), then the folder is claimed and the outputs opened."""
        best = best_until(self.run, s.step)
        if self.spec.train.eval_every:
            s.evaluator = self._evaluator(s.model, best)
        s.lock = self.run.claim(resume, {"model": self.info.name, "plugin": self.info.plugin},
                                seen)
        try:
            self._open_outputs(s, device, best)
        except BaseException:
            s.close()
            raise

    def _data_and_model(self, device: torch.device, world: World | None
                        ) -> tuple[DataInfo, BatchStream | StreamedBatches, Model]:
        seed_everything(self.spec.train.seed)
        info, stream = training_data(self.spec.data, self.spec.train, device, world, self._say,
                                     conditional=self.info.name if self.info.conditional else None)
        with self._plugin_code("__init__"):
            model = build_model(self.info, self.spec, info).to(device)
        _accelerate(model, self.spec, world)
        return info, stream, model

    def _restore(self, ckpt: dict[str, Any], model: Model,
                 stream: BatchStream | StreamedBatches,
                 world: World | None) -> int:
        try:
            model.load_state_dict(ckpt["state"])
            model.runtime.load_state_dict(ckpt.get("runtime", {}))
            stream.load_state_dict(ckpt["data"])
            step = ckpt["step"]
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
                    self._say(f"resuming on {size} process(es) a run checkpointed on "
                              f"{len(ranks)}: random draws (noise, dropout) will differ from an "
                              "uninterrupted run")
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(
                f"the checkpoint in {self.run.checkpoints} does not fit this model: {exc}"
            ) from None
        return step

    def _open_outputs(self, s: _Session, device: torch.device,
                      best: dict[str, Any] | None) -> None:
        """The main process's outputs, once it owns the folder: spec.json and run.json, and
        the metrics log. Lines, grids and a best.pt from after the step resumed from go: those
        steps are done again."""
        truncate_after(self.run.metrics_path, s.step)
        for record in read_metrics(self.run.metrics_path):  # a resumed run's rules go on
            s.health.observe(record)
        for step, grid in self.run.sample_grids().items():
            if step > s.step:
                grid.unlink(missing_ok=True)
        if best is None:
            (self.run.checkpoints / "best.pt").unlink(missing_ok=True)
        self._write_run_files(s.data, device, s.world)
        s.log = MetricsLog(self.run.metrics_path, self.run.tensorboard)
        parallel = f" x {s.world.size} processes" if s.world else ""
        start = f"resuming at step {s.step}" if s.step else "from scratch"
        self._say(f"{self.info.name} on {s.data.name} ({s.data.num_images} images, "
                  f"{s.data.channels}x{s.data.image_size}x{s.data.image_size}), device "
                  f"{device}{parallel}, {start} -> {self.run.root}")

    def _evaluator(self, model: Model, best: dict[str, Any] | None):
        from gen.evaluation.periodic import PeriodicEvaluator  # torchmetrics, extractors

        if best is not None and best.get("metric") != self.spec.train.eval_metric:
            best = None  # scored on another metric: not comparable
        return PeriodicEvaluator(self.spec, model, None if best is None else best["value"])

    def _write_run_files(self, info: DataInfo, device: torch.device,
                         world: World | None) -> None:
        self.run.write_json(self.run.spec_path, self.spec.model_dump(mode="json"))
        self.run.write_info({
            "model": self.info.name,
            "kind": self.info.kind,
            "plugin": self.info.plugin,
            "plugin_version": self.info.version,
            "gen_version": _version("gen-core"),
            "torch_version": torch.__version__,
            "device": str(device),
            "processes": world.size if world else 1,
            "data": info.as_dict(),
        })

    # --- steps -------------------------------------------------------------------------------

    def _steps(self, s: _Session) -> None:
        """Train until ``train.steps``, a stop request or the end of ``train.max_time``, with
        the periodic work after each step. What the first step returns is checked against the
        contract of `Model.train_step`."""
        tr = self.spec.train
        with _stop_requests() as stop, ProgressView(
            tr.steps, s.step, self.console, self.show_progress and s.main
        ) as view:
            meter = _Throughput(s.stream)
            first = s.step
            budget = _Budget(tr.max_time)
            while s.step < tr.steps:
                signalled, spent = stop.is_set(), budget.spent()
                if _agreed(signalled or spent, s.world):
                    s.out_of_time = _out_of_time(signalled, spent, s.world)
                    break
                # Gradient norms only for the steps that are logged: no cost on the others.
                s.model.runtime.track_grad_norms = self._logs_at(s.step + 1)
                with (self._plugin_code(f"train_step at step {s.step + 1}", s),
                      s.model.runtime.autocast()):
                    s.losses = s.model.train_step(s.stream)
                if s.step == first:
                    check_step_output(self.info, s.losses)
                s.step += 1
                view.advance(s.step)
                self._periodic(s, meter, view)
            if s.out_of_time and s.main:
                s.log.write({"step": s.step, "stopped": {
                    "reason": "max_time", "max_time_s": tr.max_time,
                    "train_s": round(budget.elapsed(), 3)}})

    def _logs_at(self, step: int) -> bool:
        return step % self.spec.train.log_every == 0 or step == self.spec.train.steps

    def _periodic(self, s: _Session, meter: _Throughput, view: ProgressView) -> None:
        tr, step = self.spec.train, s.step
        log_now = self._logs_at(step)
        checkpoint_now = step % tr.checkpoint_every == 0
        if log_now or checkpoint_now:
            self._check_losses(s)
        if s.main and log_now:
            norms = s.model.runtime.grad_norms
            record = {"step": step, **{k: float(v) for k, v in s.losses.items()},
                      **{f"grad_norm/{k}": float(v) for k, v in norms.items()},
                      **meter.since_last()}
            norms.clear()
            s.log.write(record)
            view.status(record)
            self._health(s, s.health.observe(record))
        if s.main and step % tr.sample_every == 0:
            self._sample(s)
        if s.evaluator is not None and step % tr.eval_every == 0:
            self._evaluate(s)
        if checkpoint_now:
            self._checkpoint(s)

    def _health(self, s: _Session, warnings: list[dict[str, Any]]) -> None:
        """Training-health warnings (`gen.training.health`): on the console and in the log."""
        for warning in warnings:
            s.log.write({"step": s.step, "warning": warning})
            self.console.print(Text.assemble(("warning: ", "bold yellow"), warning["message"]),
                               soft_wrap=True)

    def _plugin_code(self, where: str, s: _Session | None = None):
        """Around the family's code (`gen.plugin_code`): a `SystemExit` there is a
        `TrainingError` naming the plugin; the checkpoints written are kept."""
        return plugin_code(self.info.name, self.info.plugin, where, TrainingError,
                           lambda: ": training stopped" + (f", {_kept(s)}" if s else ""))

    def _check_losses(self, s: _Session) -> None:
        """Average the losses over processes and stop on a non-finite one."""
        if s.world is not None:
            s.losses = s.world.mean(s.losses)
        for name, value in s.losses.items():
            if not torch.isfinite(value).all():
                raise TrainingError(
                    f"step {s.step}: loss {name!r} is {float(value)} (non-finite); training "
                    f"stopped, {_kept(s, 'the last good checkpoint')}. Try a lower learning "
                    "rate."
                )

    def _payload(self, s: _Session) -> dict[str, Any]:
        return {
            "model": self.info.name,
            "spec": self.spec.model_dump(mode="json"),
            "data_info": s.data.as_dict(),
            "state": s.model.state_dict(),
            "runtime": s.model.runtime.state_dict(),
            "data": s.stream.state_dict(),
            "rng": rng_state(),
        }

    def _checkpoint(self, s: _Session) -> None:
        """Rank 0 writes the checkpoint; every process hands it its RNG state first."""
        ranks = s.world.gather(rng_state()) if s.world else None
        s.saved_at = s.step
        if not s.main:
            return
        payload = self._payload(s)
        if ranks is not None:
            payload["rng_ranks"] = ranks
        s.checkpoint = save_checkpoint(self.run, s.step, payload, self.spec.train.keep_checkpoints)

    def _evaluate(self, s: _Session) -> None:
        """Score the weights of this step; keep them as best.pt if they beat the best so far."""
        with self._plugin_code(f"the evaluation at step {s.step}", s):
            record = s.evaluator.evaluate(s.model, s.step)
            coverage = s.evaluator.measure_coverage(s.model)
        s.log.write({"step": s.step, f"eval_{record['metric']}": record["value"],
                     "evaluation": record})
        if coverage is not None:
            line = {"step": s.step, "coverage": coverage}
            s.log.write(line)
            self._health(s, s.health.observe(line))
        if s.evaluator.improves(record["value"]):
            s.evaluator.best = record["value"]
            best = {k: record[k] for k in ("metric", "value", "step", "seed")}
            best.update({k: record[k] for k in ("extractor", "extractor_hash") if k in record})
            save_best(self.run, self._payload(s), best)

    def _sample(self, s: _Session) -> None:
        # A fixed generator: every grid of a run shows the same latents, and the training RNG
        # stream is untouched, so sampling cadence never changes the trained weights.
        g = torch.Generator(device=s.model.device).manual_seed(self.spec.train.seed)
        with self._plugin_code(f"sample at step {s.step}", s):
            images = s.model.sample(self.spec.train.num_samples, generator=g)
        s.sample, s.sampled_at = save_grid(images, self.run.sample_path(s.step)), s.step
        s.log.write_grid(s.step, images)

    # --- finish ------------------------------------------------------------------------------

    def _finish(self, s: _Session) -> TrainResult:
        """A checkpoint and a grid of the step reached (when the cadence did not just write
        them), and how to continue a stopped run."""
        if s.saved_at != s.step:
            self._check_losses(s)
            self._checkpoint(s)
        if s.main and s.sampled_at != s.step:
            self._sample(s)
        interrupted = s.step < self.spec.train.steps
        if interrupted and s.main:
            nproc = f" --nproc {s.world.size}" if s.world else ""
            why = (f" on its time budget (train.max_time = {self.spec.train.max_time:g} s)"
                   if s.out_of_time else "")
            self._say(f"stopped at step {s.step}{why}; checkpoint written. Continue with "
                      f"`gen train {self.info.name} --out {shlex.quote(str(self.run.root))} "
                      f"--resume{nproc}`.")
        return TrainResult(self.run, s.step, interrupted, s.checkpoint, s.sample, s.out_of_time)

    def _say(self, text: str) -> None:
        # soft_wrap: whole lines (paths, commands) in logs and pipes, never cut at 80 columns
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


class _Throughput:
    """Images per second between log lines, and seconds since training (re)started."""

    def __init__(self, stream: BatchStream):
        self.stream = stream
        self.start = self.tick = time.perf_counter()
        self.images = stream.images_drawn

    def since_last(self) -> dict[str, float]:
        now = time.perf_counter()
        rate = (self.stream.images_drawn - self.images) / (now - self.tick)
        self.tick, self.images = now, self.stream.images_drawn
        return {"images_per_s": rate, "elapsed_s": now - self.start}


class _Budget:
    """``train.max_time``: seconds of wall-clock time from the first step of this process."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def spent(self) -> bool:
        return self.seconds is not None and self.elapsed() >= self.seconds


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


def check_step_output(info: ModelInfo, losses: Any) -> None:
    """A `TrainingError` naming the plugin unless ``losses`` (what ``train_step`` returned)
    is a dict of scalar tensors by name: otherwise the core would fail later, in logging or
    the finiteness check, with an error that blames it."""
    problem = _step_output_problem(losses)
    if problem is not None:
        raise TrainingError(
            f"train_step of model {info.name!r} (plugin {info.plugin!r}) must return a dict of "
            f"scalar tensors by name; got {problem}"
        )


def _step_output_problem(losses: Any) -> str | None:
    if not isinstance(losses, dict):
        return type(losses).__name__
    for name, value in losses.items():
        if not isinstance(name, str):
            return f"a dict with the key {name!r} ({type(name).__name__}, not str)"
        if not isinstance(value, torch.Tensor):
            return f"{name!r}: {type(value).__name__}"
        if value.numel() != 1:
            return f"{name!r}: a tensor of shape {tuple(value.shape)}"
        if value.requires_grad:
            return (f"{name!r}: a tensor that still requires grad (it keeps the step's graph "
                    "alive until the next log line): return loss.detach()")
    return None


def _kept(s: _Session, which: str = "the last checkpoint") -> str:
    """Where the run can be picked up again, for an error that stops it."""
    if s.checkpoint is not None:
        return f"{which} is {s.checkpoint}"
    if s.saved_at:  # resumed (or another process's), nothing saved here since
        return f"{which} is that of step {s.saved_at}"
    return "no checkpoint was written"


def _agreed(stop: bool, world: World | None) -> bool:
    """Whether to stop now: in a multi-process run, as soon as any process was asked to (by a
    signal or by `gen train --nproc`), so every process stops after the same step and one
    consistent checkpoint is written."""
    return world.any(stop or stop_requested()) if world is not None else stop


def _out_of_time(signalled: bool, spent: bool, world: World | None) -> bool:
    """Whether a stop all processes agreed on is the budget's: some process ran out of
    ``train.max_time`` and none was asked to stop (a signal, or `gen train --nproc`'s stop
    file), which takes precedence and exits as an interruption. Every process calls this at
    the same step, so the collectives pair up."""
    if world is None:
        return spent and not signalled
    return world.any(spent) and not world.any(signalled or stop_requested())


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
