"""A model rebuilt from a checkpoint: the plugin's constructor, then the saved weights. Which
of the two fails decides what the error names: the plugin (its ``__init__`` raised) or the
checkpoint (weights that do not fit the model, even where the plugin's own ``load_state_dict``
meets them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from gen.data.info import DataInfo
from gen.errors import CheckpointError
from gen.model import Model
from gen.plugin_code import plugin_code
from gen.registry import ModelInfo
from gen.specs import ModelSpec


def restore_model(info: ModelInfo, spec: ModelSpec, ckpt: dict[str, Any], path: Path,
                  device: torch.device) -> Model:
    """The model of ``info`` built from ``spec`` and ``ckpt`` (loaded from ``path``), in
    eval mode on ``device``, with the weight average (``train.ema``) where it has one."""
    with _misfit(path, info.name):
        data = DataInfo(**ckpt["data_info"])
    with plugin_code(info.name, info.plugin, f"__init__ (building from {path})"):
        model = info.model_class()(spec, data)
    with plugin_code(info.name, info.plugin, f"loading {path}"), _misfit(path, info.name):
        model.load_state_dict(ckpt["state"])
        model.to(device)
        model.use_average()  # samples and scores use the average
        model.train(False)
    return model


@contextmanager
def _misfit(path: Path, name: str) -> Iterator[None]:
    try:
        yield
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"{path} does not fit model {name!r}: {exc}") from None
