"""TensorBoard: event files in the run's ``tensorboard/`` folder (`tensorboard --logdir RUN`).

Scalars under the shared tags (`gen.tracking.base.scalars`), the sample grids as image
``samples``, health warnings and stops as text ``health`` and ``run``, each `gen evaluate`
record in full as text ``evaluate``, and the resolved spec as HParams (in the same event files,
not the sub-run `SummaryWriter.add_hparams` would make) and as text ``spec``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from gen.tracking.base import TrackedRun, Tracker, scalars, stopped_text, warning_text


class TensorBoardTracker(Tracker):
    def start(self, run: TrackedRun) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.writer = SummaryWriter(str(run.root / "tensorboard"))
        self.purpose = run.purpose
        if run.purpose == "train":
            eval_metric = run.spec.get("train", {}).get("eval_metric")
            metrics = {f"eval/{eval_metric}": 0.0} if eval_metric else {}
            file_writer = self.writer._get_file_writer()
            for summary in hparams(run.params, metrics):
                file_writer.add_summary(summary)
            self.writer.add_text("spec", f"```json\n{json.dumps(run.spec, indent=2)}\n```", 0)

    def log(self, step: int, record: dict[str, Any]) -> None:
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, step)
        if (text := warning_text(record)) is not None:
            self.writer.add_text("health", text, step)
        if (text := stopped_text(record)) is not None:
            self.writer.add_text("run", text, step)
        if self.purpose == "evaluate" and "evaluation" in record:
            self.writer.add_text("evaluate", f"```json\n{json.dumps(record, indent=2)}\n```",
                                 step)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        self.writer.add_image(name, image, step, dataformats="HWC")

    def finish(self, status: str | None) -> None:
        if status is not None:
            self.writer.add_text("run", status)
        self.writer.close()
