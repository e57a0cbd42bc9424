"""Building what a run trains: the model from its spec, with the run's speed settings, and
the facts run.json records about it."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import torch

from gen.data.info import DataInfo
from gen.distributed import World
from gen.model import Model
from gen.registry import ModelInfo
from gen.runtime import Runtime
from gen.specs import RunSpec


def build_model(info: ModelInfo, spec: RunSpec, data: DataInfo) -> Model:
    return info.model_class()(spec.model, data)


def accelerate(model: Model, spec: RunSpec, world: World | None) -> None:
    """Apply the run's speed settings: memory layout, precision and parallelism, compilation."""
    tr = spec.train
    if tr.channels_last:
        for module in model.modules.values():
            module.to(memory_format=torch.channels_last)
    model.runtime = Runtime(model.device, tr.precision, world, tr.grad_clip)
    if tr.compile:
        for name, module in model.modules.items():
            if name not in model.eager_modules:
                module.compile()  # in place: parameter names (checkpoint keys) stay as they are



def run_info(info: ModelInfo, data: DataInfo, device: torch.device,
             world: World | None) -> dict[str, Any]:
    """run.json: which model and plugin (and versions) trained on what, where."""
    return {
        "model": info.name,
        "kind": info.kind,
        "plugin": info.plugin,
        "plugin_version": info.version,
        "gen_version": _version("gen-core"),
        "torch_version": torch.__version__,
        "device": str(device),
        "processes": world.size if world else 1,
        "data": data.as_dict(),
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
