"""gen: a plugin-based framework for image generative models on PyTorch.

The public API. Importing `gen` is cheap (no torch): plugins import it to register their models.
The torch-backed base classes (`Model`, `AdversarialModel`, `Batch`) load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gen.data.info import DataInfo
from gen.errors import (
    CheckpointError,
    DataError,
    GenError,
    PluginError,
    SpecError,
    TrainingError,
    UnknownModelError,
)
from gen.hookspecs import hookimpl
from gen.protocols import DensityModel, Discriminator, Generator, LatentVariableModel
from gen.registry import ModelInfo
from gen.specs import DataSpec, ModelSpec, OptimizerSpec, RunSpec, TrainSpec

if TYPE_CHECKING:
    from gen.model import AdversarialModel, Batch, Model, NextBatch

__all__ = [
    "AdversarialModel",
    "Batch",
    "CheckpointError",
    "DataError",
    "DataInfo",
    "DataSpec",
    "DensityModel",
    "Discriminator",
    "GenError",
    "Generator",
    "LatentVariableModel",
    "Model",
    "ModelInfo",
    "ModelSpec",
    "NextBatch",
    "OptimizerSpec",
    "PluginError",
    "RunSpec",
    "SpecError",
    "TrainSpec",
    "TrainingError",
    "UnknownModelError",
    "hookimpl",
]

_LAZY = {"AdversarialModel", "Batch", "Model", "NextBatch"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from gen import model

        return getattr(model, name)
    raise AttributeError(f"module 'gen' has no attribute {name!r}")
