"""Weights & Biases: one W&B run per gen run, its local files in the run's ``wandb/`` folder.

``mode`` (else $WANDB_MODE, else W&B's default) decides where it goes: ``offline`` writes only
those local files (no network; ``wandb sync RUN/wandb/offline-run-*`` uploads them later).
Config: the flattened resolved spec. History: the shared scalar tags and each sample grid as
``samples``, at their steps. Summary: ``gen_status`` and the health warnings. The W&B run id is
kept in run.json, so ``--resume`` and `gen evaluate` continue the same W&B run (``resume=
"allow"``). W&B keeps a run's steps increasing: the steps a resume repeats (those after its
checkpoint) are dropped there, as W&B drops any earlier step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gen.tracking.base import TrackedRun, Tracker, scalars, stopped_text, warning_text

EXIT_CODE = {"finished": 0, "stopped": 0, "interrupted": 130, "failed": 1}


class WandbTracker(Tracker):
    def start(self, run: TrackedRun) -> dict[str, Any]:
        import wandb

        state = run.state or {}
        o = self.options
        self.run = wandb.init(
            project=o.project, entity=o.entity, mode=o.mode, name=o.run_name or run.name,
            tags=o.tags or None, dir=str(run.root), id=state.get("id"), resume="allow",
            config=run.params, allow_val_change=True, reinit="create_new",
            settings=wandb.Settings(silent=True, console="off"),
        )
        self.last_step = -1
        self.warnings: list[str] = []
        return {"id": self.run.id, "project": o.project}

    def log(self, step: int, record: dict[str, Any]) -> None:
        values: dict[str, Any] = dict(scalars(record))
        if (text := warning_text(record)) is not None:
            self.warnings.append(f"step {step}: {text}")
        if (text := stopped_text(record)) is not None:
            self.run.summary["gen_stopped"] = text
        self._log(step, values)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        import wandb

        self._log(step, {name: wandb.Image(image)})

    def finish(self, status: str | None) -> None:
        if self.warnings:
            self.run.summary["health_warnings"] = self.warnings
        if status is not None:
            self.run.summary["gen_status"] = status
        self.run.finish(exit_code=EXIT_CODE.get(status, 0))

    def _log(self, step: int, values: dict[str, Any]) -> None:
        if values and step >= self.last_step:
            self.run.log(values, step=step)
            self.last_step = step
