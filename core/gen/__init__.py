"""gen: a plugin-based framework for image generative models on PyTorch.

The public API. Importing `gen` is cheap (no torch): plugins import it to register their models.
What needs torch loads on first access: the base classes (`Model`, `AdversarialModel`,
`Batch`), `train`, `load_run` and `Run` (docs/python.md), and `write_report` (docs/report.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gen.data.info import DataInfo
from gen.errors import (
    AmbiguousNameError,
    CheckpointError,
    DataError,
    FolderError,
    GenError,
    PluginError,
    RunLockedError,
    SpecError,
    TrainingError,
    UnknownModelError,
    UsageError,
    WriteError,
)
from gen.hookspecs import hookimpl
from gen.protocols import DensityModel, Discriminator, Generator, LatentVariableModel
from gen.registry import ModelInfo
from gen.specs import DataSpec, ModelSpec, OptimizerSpec, RunSpec, TrainSpec

if TYPE_CHECKING:
    from gen.data.batch import Batch, NextBatch
    from gen.handle import Run, load_run
    from gen.model import AdversarialModel, Model
    from gen.report import write_report
    from gen.training.api import train

__all__ = [
    "AdversarialModel",
    "AmbiguousNameError",
    "Batch",
    "CheckpointError",
    "DataError",
    "DataInfo",
    "DataSpec",
    "DensityModel",
    "Discriminator",
    "FolderError",
    "GenError",
    "Generator",
    "LatentVariableModel",
    "Model",
    "ModelInfo",
    "ModelSpec",
    "NextBatch",
    "OptimizerSpec",
    "PluginError",
    "Run",
    "RunLockedError",
    "RunSpec",
    "SpecError",
    "TrainSpec",
    "TrainingError",
    "UnknownModelError",
    "UsageError",
    "WriteError",
    "hookimpl",
    "load_run",
    "sweep",
    "train",
    "write_report",
]

# name -> the module that defines it, imported on first access (they import torch).
_LAZY = {
    "AdversarialModel": "gen.model",
    "Model": "gen.model",
    "Batch": "gen.data.batch",
    "NextBatch": "gen.data.batch",
    "Run": "gen.handle",
    "load_run": "gen.handle",
    "train": "gen.training.api",
    "write_report": "gen.report",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "sweep":  # a callable package (`gen.sweep(...)`, `gen.sweep.render_sweep_report`)
        return importlib.import_module("gen.sweep")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gen' has no attribute {name!r}")
