"""The options of the built-in trackers, as ``train.trackers`` gives them. Pydantic only: a spec
is checked without importing torch or the trackers' libraries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gen.spec_base import StrictSpec


class MLflowOptions(StrictSpec):
    tracking_uri: str | None = Field(
        None, description="where runs are stored: a server (http://host:5000) or a database "
        "(sqlite:///path/mlflow.db); default $MLFLOW_TRACKING_URI, else a store in the run's "
        "mlruns/ folder"
    )
    experiment: str = Field("gen", min_length=1, description="the MLflow experiment")
    run_name: str | None = Field(None, description="default: the run folder's name")


class WandbOptions(StrictSpec):
    project: str = Field("gen", min_length=1, description="the W&B project")
    entity: str | None = Field(None, description="the team or user; default your default")
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="default $WANDB_MODE, else W&B's own (online when logged in)"
    )
    run_name: str | None = Field(None, description="default: the run folder's name")
    tags: list[str] = Field(default_factory=list)
