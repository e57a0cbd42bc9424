"""The step-based training loop owned by the core.

The family owns one optimisation step; this loop owns the rest: devices, seeding, data, cadence
of logs, sample grids, evaluations and checkpoints, resuming, and stopping cleanly on Ctrl-C or
SIGTERM. It reads as `Trainer._setup`, `Trainer._steps`, `Trainer._finish`; the run directory
itself (layout, lock, files) belongs to `gen.run`.
"""

from __future__ import annotations

from typing import Any

import torch
from rich.console import Console

from gen.data.info import DataInfo
from gen.data.loader import BatchStream, StreamedBatches
from gen.data.storage import training_data
from gen.device import resolve_device
from gen.distributed import World
from gen.errors import GenError, TrainingError
from gen.launch import launched_world_size, local_rank
from gen.model import Model
from gen.plugin_code import plugin_code
from gen.registry import ModelInfo
from gen.run.checkpoints import best_until
from gen.run.layout import RunDir
from gen.run.resume import resume_point
from gen.seeding import seed_everything
from gen.specs import RunSpec
from gen.tracking.fanout import Trackers
from gen.training import state
from gen.training.checks import check_step_output, non_finite
from gen.training.health import HealthMonitor
from gen.training.outputs import RunOutputs
from gen.training.progress import ProgressView
from gen.training.schedules import Schedules
from gen.training.session import Session, Throughput, TrainResult, open_outputs
from gen.training.setup import (
    accelerate,
    build_model,
    check_batch_size,
    check_model_fits,
    run_info,
)
from gen.training.stopping import Budget, agreed, out_of_time, stop_message, stop_requests

__all__ = ["TrainResult", "Trainer", "build_model", "check_step_output"]


class Trainer(RunOutputs):
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
        # Schedules pinned to their length: extending the run on --resume keeps their course.
        self.spec = spec.model_copy(
            update={"train": spec.train.pinned().model_copy(update={"out": str(run.root)})})
        self.console = console or Console(stderr=True)
        self.show_progress = show_progress

    def train(self, resume: bool = False) -> TrainResult:
        """Train from scratch or, with ``resume``, from the run's latest checkpoint. Under
        torchrun every process calls this; they join one process group for the run."""
        multi = launched_world_size() > 1
        device = resolve_device(self.spec.train.device, local_rank() if multi else None,
                                "train.device")
        world = World.join(device) if multi else None
        session, status = None, "failed"
        try:
            session = self._setup(resume, device, world)
            self._steps(session)
            result = self._finish(session)
            status = result.status
            return result
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            if session is not None:
                session.close(status)
            if world is not None:
                world.close()

    # --- setup -------------------------------------------------------------------------------

    def _setup(self, resume: bool, device: torch.device, world: World | None) -> Session:
        """Everything before the first step. Nothing is written until the checkpoint, spec,
        data and model are known good; then the main process claims the run folder."""
        main = world is None or world.is_main
        tr = self.spec.train
        trackers = None
        if main:  # what can be refused without the data: before it is read
            self.run.check_target(resume)
            trackers = Trackers.build(self.spec.train.trackers)
            trackers.check(self.run.root)
        seen = self.run.checkpoint_files() if resume else None  # before reading one of them
        ckpt = None
        if resume:
            ckpt, note = resume_point(self.run, self.spec)
            if note and main:
                self._say(note)
        info, stream, model = self._data_and_model(device, world, ckpt)
        session = Session(model, Schedules(model.optimizers, tr), stream, info, world, step=0,
                          lock=None, health=HealthMonitor(model=self.info.name,
                                                          kind=self.info.kind),
                          trackers=trackers)
        if ckpt is not None:
            step = state.restore(ckpt, session, self.run, tr.seed, self._say)
            session.step = session.saved_at = session.sampled_at = step
        elif world is not None:
            world.broadcast_modules(model.modules)
            if model.average is not None:
                world.broadcast_modules(model.average.average)
            state.seed_rank(tr.seed, 0, world)
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

    def _take_outputs(self, s: Session, resume: bool, seen: list | None,
                      device: torch.device) -> None:
        """The main process: the evaluator (its checks of metric and extractor come before
        anything is written), then the folder is claimed and the outputs opened."""
        best = best_until(self.run, s.step)
        if self.spec.train.eval_every:
            s.evaluator = self._evaluator(s.model, best)
        s.lock = self.run.claim(resume, {"model": self.info.name, "plugin": self.info.plugin},
                                seen)
        try:
            open_outputs(self.run, s, self.spec, run_info(self.info, s.data, device, s.world),
                         best)
            parallel = f" x {s.world.size} processes" if s.world else ""
            start = f"resuming at step {s.step}" if s.step else "from scratch"
            self._say(f"{self.info.name} on {s.data.name} ({s.data.num_images} images, "
                      f"{s.data.channels}x{s.data.image_size}x{s.data.image_size}), device "
                      f"{device}{parallel}, {start} -> {self.run.root}")
        except BaseException:
            s.close()
            raise

    def _data_and_model(self, device: torch.device, world: World | None,
                        ckpt: dict[str, Any] | None = None
                        ) -> tuple[DataInfo, BatchStream | StreamedBatches, Model]:
        seed_everything(self.spec.train.seed)
        why = self.spec.model.needs_labels()
        conditional = self.info.name if self.info.conditional else (
            f"{self.info.name} with {why}" if why else None)
        info, stream = training_data(self.spec.data, self.spec.train, device, world, self._say,
                                     conditional=conditional,
                                     trained=None if ckpt is None else ckpt.get("data_info"))
        check_model_fits(self.info, self.spec, info, device)
        with self._plugin_code("__init__"):
            model = build_model(self.info, self.spec, info).to(device)
            least = model.min_batch_size
        check_batch_size(least, self.spec, world)
        if self.spec.train.ema is not None:  # a copy of the weights as built, before compiling
            model.keep_average(self.spec.train.ema)
        accelerate(model, self.spec, world)
        return info, stream, model

    def _evaluator(self, model: Model, best: dict[str, Any] | None):
        from gen.evaluation.periodic import PeriodicEvaluator  # torchmetrics, extractors

        if best is not None and best.get("metric") != self.spec.train.eval_metric:
            best = None  # scored on another metric: not comparable
        return PeriodicEvaluator(self.spec, model, None if best is None else best["value"])

    # --- steps -------------------------------------------------------------------------------

    def _steps(self, s: Session) -> None:
        """Train until ``train.steps``, a stop request or the end of ``train.max_time``, with
        the periodic work after each step. What the first step returns is checked against the
        contract of `Model.train_step`."""
        tr = self.spec.train
        with stop_requests() as stop, ProgressView(
            tr.steps, s.step, self.console, self.show_progress and s.main, tr.max_time
        ) as view:
            meter = Throughput(s.stream)
            first = s.step
            budget = Budget(tr.max_time)
            while s.step < tr.steps:
                signalled, spent = stop.is_set(), budget.spent()
                if agreed(signalled or spent, s.world):
                    s.out_of_time = out_of_time(signalled, spent, s.world)
                    break
                # Gradient norms and rates only for the steps that are logged.
                logs = s.model.runtime.track_grad_norms = self._logs_at(s.step + 1)
                if logs:
                    s.rates = s.schedules.rates()
                with (self._plugin_code(f"train_step at step {s.step + 1}", s),
                      s.model.runtime.autocast()):
                    s.losses = s.model.train_step(s.stream)
                if s.step == first:
                    check_step_output(self.info, s.losses)
                s.step += 1
                s.schedules.step()
                if s.model.average is not None:
                    s.model.average.update(s.step)
                view.advance(s.step)
                self._periodic(s, meter, view)
            if s.out_of_time and s.main:
                s.log.write({"step": s.step, "stopped": {
                    "reason": "max_time", "max_time_s": tr.max_time,
                    "train_s": round(budget.elapsed(), 3)}})

    def _logs_at(self, step: int) -> bool:
        return step % self.spec.train.log_every == 0 or step == self.spec.train.steps

    def _periodic(self, s: Session, meter: Throughput, view: ProgressView) -> None:
        tr, step = self.spec.train, s.step
        log_now = self._logs_at(step)
        checkpoint_now = step % tr.checkpoint_every == 0
        if log_now or checkpoint_now:
            self._check_losses(s)
        if s.main and log_now:
            norms = s.model.runtime.grad_norms
            record = {"step": step, **{k: float(v) for k, v in s.losses.items()},
                      **{f"grad_norm/{k}": float(v) for k, v in norms.items()},
                      **s.rates, **meter.since_last()}
            norms.clear()
            s.log.write(record)
            view.status(record)
            self._health(s, s.health.observe(record))
        if s.main and step % tr.sample_every == 0:
            self._sample(s)
        if s.evaluator is not None and step % tr.eval_every == 0:
            self._evaluate(s, view)
        if checkpoint_now:
            self._checkpoint(s)

    def _plugin_code(self, where: str, s: Session | None = None):
        """Around the family's code (`gen.plugin_code`): a `SystemExit` there is a
        `TrainingError` naming the plugin; the checkpoints written are kept."""
        return plugin_code(self.info.name, self.info.plugin, where, TrainingError,
                           lambda: ": training stopped" + (f", {s.kept()}" if s else ""))

    def _check_losses(self, s: Session) -> None:
        """Average the losses over processes and stop on a non-finite one."""
        if s.world is not None:
            s.losses = s.world.mean(s.losses)
        bad = non_finite(s.losses)
        if bad is not None:
            raise TrainingError(
                f"step {s.step}: loss {bad[0]!r} is {bad[1]} (non-finite); training stopped, "
                f"{s.kept('the last good checkpoint')}. Try a lower learning rate."
            )

    # --- finish ------------------------------------------------------------------------------

    def _finish(self, s: Session) -> TrainResult:
        """A checkpoint and a grid of the step reached (when the cadence did not just write
        them), and how to continue a stopped run."""
        if s.saved_at != s.step:
            self._check_losses(s)
            self._checkpoint(s)
        if s.main and s.sampled_at != s.step:
            self._sample(s)
        interrupted = s.step < self.spec.train.steps
        if interrupted and s.main:
            self._say(stop_message(self.info.name, self.run, s.step, s.checkpoint is not None,
                                   self.spec.train.max_time if s.out_of_time else None,
                                   s.world.size if s.world else None))
        return TrainResult(self.run, s.step, interrupted, s.checkpoint, s.sample, s.out_of_time)

    def _say(self, text: str) -> None:
        # soft_wrap: whole lines (paths, commands) in logs and pipes, never cut at 80 columns
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
