"""MLflow: one MLflow run per gen run, in a store of the run's own (``RUN/mlruns``: an SQLite
database and the artifacts beside it) unless ``tracking_uri`` (or $MLFLOW_TRACKING_URI) names
a server or a shared database.

Parameters: the flattened resolved spec. Metrics: the shared scalar tags at their steps.
Artifacts: each sample grid as ``samples/step-NNNNNN.png``, the spec as ``spec.json``, the
health warnings as ``health.txt``. Tags: ``gen.status`` (how the run ended) and the MLflow
status FINISHED (finished, or stopped on its budget), KILLED (interrupted) or FAILED. The run id
is kept in run.json, so ``--resume`` and `gen evaluate` add to the same MLflow run; parameters
are immutable in MLflow, so a resume logs only new ones.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from gen.errors import GenError
from gen.tracking.base import TrackedRun, Tracker, scalars, stopped_text, warning_text

CHECK_TIMEOUT_S = 5.0
PARAM_LENGTH = 6000  # MLflow's longest parameter value
STATUS = {"finished": "FINISHED", "stopped": "FINISHED", "interrupted": "KILLED",
          "failed": "FAILED"}


class MLflowTracker(Tracker):
    def uri(self, run_root: Path) -> str:
        return (self.options.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
                or f"sqlite:///{run_root.resolve() / 'mlruns' / 'mlflow.db'}")

    def check(self, run_root: Path) -> None:
        """A server must answer its /health before the run starts."""
        uri = self.uri(run_root)
        if not uri.startswith(("http://", "https://")):
            return
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=CHECK_TIMEOUT_S):
                pass
        except (OSError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GenError(f"tracker 'mlflow': no MLflow server answers at {uri} ({reason}); "
                           "start it, or fix train.trackers' tracking_uri") from None

    def start(self, run: TrackedRun) -> dict[str, Any]:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        for noisy in ("alembic", "mlflow"):  # a new store's schema migrations log at INFO
            logging.getLogger(noisy).setLevel(logging.WARNING)
        uri = self.uri(run.root)
        store = run.root.resolve() / "mlruns"
        if uri.startswith("sqlite:///") and str(store) in uri:
            store.mkdir(exist_ok=True)
        self.client = MlflowClient(tracking_uri=uri)
        self.warnings: list[str] = []
        state = run.state or {}
        if state.get("run_id") and state.get("tracking_uri") == uri:
            self.run_id = state["run_id"]
            logged = self.client.get_run(self.run_id).data.params
        else:
            experiment = self.client.get_experiment_by_name(self.options.experiment)
            experiment_id = experiment.experiment_id if experiment else (
                self.client.create_experiment(
                    self.options.experiment,
                    artifact_location=(store / "artifacts").as_uri() if str(store) in uri
                    else None))
            created = self.client.create_run(
                experiment_id, run_name=self.options.run_name or run.name,
                tags={"gen.model": run.model, "gen.run_dir": str(run.root)})
            self.run_id, logged = created.info.run_id, {}
            self.client.log_dict(self.run_id, run.spec, "spec.json")
        params = [Param(k, str(v)[:PARAM_LENGTH]) for k, v in run.params.items()
                  if k not in logged]
        for i in range(0, len(params), 100):  # MLflow takes 100 parameters per batch
            self.client.log_batch(self.run_id, params=params[i:i + 100])
        return {"run_id": self.run_id, "tracking_uri": uri}

    def log(self, step: int, record: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in scalars(record).items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)
        if (text := warning_text(record)) is not None:
            self.warnings.append(f"step {step}: {text}")
        if (text := stopped_text(record)) is not None:
            self.client.set_tag(self.run_id, "gen.stopped", text)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        self.client.log_image(self.run_id, image, artifact_file=f"{name}/step-{step:06d}.png")

    def finish(self, status: str | None) -> None:
        if self.warnings:
            self.client.log_text(self.run_id, "\n".join(self.warnings) + "\n",
                                 f"health-{int(time.time())}.txt")
        if status is not None:
            self.client.set_tag(self.run_id, "gen.status", status)
            self.client.set_terminated(self.run_id, STATUS[status])
