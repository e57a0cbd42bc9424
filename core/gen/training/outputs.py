"""What a training run writes as it goes, apart from the loop that decides when: checkpoints
(every process hands rank 0 its RNG state), evaluations with the best weights kept, sample
grids, and training-health warnings. Mixed into `gen.training.loop.Trainer`, whose ``run``,
``spec``, ``info``, ``console`` and ``_plugin_code`` these use."""

from __future__ import annotations

from typing import Any

import torch
from rich.text import Text

from gen.images import save_grid
from gen.run.checkpoints import save_best, save_checkpoint
from gen.sampling import check_images
from gen.seeding import rng_state
from gen.training import state
from gen.training.progress import ProgressView
from gen.training.session import Session


class RunOutputs:
    """The `Trainer`'s writing of checkpoints, evaluations, grids and warnings."""

    def _health(self, s: Session, warnings: list[dict[str, Any]]) -> None:
        """Training-health warnings (`gen.training.health`): on the console and in the log."""
        for warning in warnings:
            s.log.write({"step": s.step, "warning": warning})
            self.console.print(Text.assemble(("warning: ", "bold yellow"), warning["message"]),
                               soft_wrap=True)

    def _payload(self, s: Session) -> dict[str, Any]:
        return state.payload(s, self.info.name, self.spec)

    def _checkpoint(self, s: Session) -> None:
        """Rank 0 writes the checkpoint; every process hands it its RNG state first."""
        ranks = s.world.gather(rng_state()) if s.world else None
        s.saved_at = s.step
        if not s.main:
            return
        payload = self._payload(s)
        if ranks is not None:
            payload["rng_ranks"] = ranks
        s.checkpoint = save_checkpoint(self.run, s.step, payload, self.spec.train.keep_checkpoints)

    def _evaluate(self, s: Session, view: ProgressView) -> None:
        """Score the weights of this step (their average, with ``train.ema``), show the score
        and keep them as best.pt if they beat the best so far."""
        with (self._plugin_code(f"the evaluation at step {s.step}", s),
              s.model.sampling_weights()):
            record = s.evaluator.evaluate(s.model, s.step)
            coverage = s.evaluator.measure_coverage(s.model)
        s.log.write({"step": s.step, f"eval_{record['metric']}": record["value"],
                     "evaluation": record})
        improves = s.evaluator.improves(record["value"])
        view.score(record, coverage, improves)
        if coverage is not None:
            line = {"step": s.step, "coverage": coverage}
            s.log.write(line)
            self._health(s, s.health.observe(line))
        if improves:
            s.evaluator.best = record["value"]
            # the whole record: how the score was measured (n, real n, extractor, convention,
            # sampler) decides what it may be compared with
            best = {k: v for k, v in record.items() if k != "checkpoint"}
            save_best(self.run, self._payload(s), best)

    def _sample(self, s: Session) -> None:
        # A fixed generator: every grid of a run shows the same latents, and the training RNG
        # stream is untouched, so sampling cadence never changes the trained weights.
        g = torch.Generator(device=s.model.device).manual_seed(self.spec.train.seed)
        with self._plugin_code(f"sample at step {s.step}", s), s.model.sampling_weights():
            n = self.spec.train.num_samples
            images = check_images(s.model, f"sample({n})", s.model.sample(n, generator=g), n)
        s.sample, s.sampled_at = save_grid(images, self.run.sample_path(s.step)), s.step
        s.log.write_grid(s.step, images)

