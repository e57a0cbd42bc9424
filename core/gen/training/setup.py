"""Building what a run trains: the model from its spec, with the run's speed settings, and
the facts run.json records about it."""

from __future__ import annotations

import sys
from contextlib import redirect_stdout
from importlib import metadata
from typing import Any

import torch

from gen.data.info import DataInfo
from gen.distributed import World
from gen.errors import PluginError, SpecError, UsageError
from gen.model import Model
from gen.registry import ModelInfo
from gen.resources import available_memory
from gen.runtime import Runtime
from gen.specs import RunSpec


def build_model(info: ModelInfo, spec: RunSpec, data: DataInfo) -> Model:
    return info.model_class()(spec.model, data)


def check_model_fits(info: ModelInfo, spec: RunSpec, data: DataInfo,
                     device: torch.device) -> None:
    """Refuse, before its weights are allocated, a model whose weights alone exceed the
    memory free on ``device`` (the data, loaded before, counts as used): it is built first on
    the meta device, which allocates nothing and draws no random numbers, so its constructor
    runs twice. A constructor that cannot run there is not checked here (the real build then
    fails, if it does, naming the plugin)."""
    try:
        with redirect_stdout(sys.stderr), torch.device("meta"):
            model = build_model(info, spec, data)
        held = sum(t.numel() * t.element_size() for module in model.modules.values()
                   for t in (*module.parameters(), *module.buffers()))
    except Exception:
        return
    free = device_memory(device)
    if free is not None and held > free:
        raise UsageError(
            f"model {info.name!r}: at this spec its networks hold {held / 2**30:,.1f} GiB of "
            f"weights, more than the {free / 2**30:,.1f} GiB free on {device} (training needs "
            "about four times that, with gradients and the optimizer's state): make its "
            "model.* sizes smaller")


def device_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` now, None where it cannot be told."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return available_memory() if device.type == "cpu" else None


def check_batch_size(least: int, spec: RunSpec, world: World | None) -> None:
    """``train.batch_size`` per process against ``least``, the fewest images the model's
    ``train_step`` can take (its ``min_batch_size``), before the first step rather than in
    its traceback."""
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise PluginError(f"model {spec.model.name!r}: min_batch_size is {least!r}; expected "
                          "a whole number of at least 1")
    processes = 1 if world is None else world.size
    if spec.train.batch_size // processes < least:
        each = "" if processes == 1 else f" per process ({processes} processes)"
        raise SpecError([("train.batch_size", f"{spec.train.batch_size} is too small: "
                          f"{spec.model.name}'s training step needs at least {least} images"
                          f"{each}")])


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
