"""What the loop checks of a family's step: its output (at the first step) and its losses
(whenever they are logged or checkpointed)."""

from __future__ import annotations

from typing import Any

import torch

from gen.errors import TrainingError
from gen.registry import ModelInfo


def check_step_output(info: ModelInfo, losses: Any) -> None:
    """A `TrainingError` naming the plugin unless ``losses`` (what ``train_step`` returned)
    is a dict of scalar tensors by name: otherwise the core would fail later, in logging or
    the finiteness check, with an error that blames it."""
    problem = _step_output_problem(losses)
    if problem is not None:
        raise TrainingError(
            f"train_step of model {info.name!r} (plugin {info.plugin!r}) must return a dict of "
            f"scalar tensors by name; got {problem}"
        )


def _step_output_problem(losses: Any) -> str | None:
    if not isinstance(losses, dict):
        return type(losses).__name__
    for name, value in losses.items():
        if not isinstance(name, str):
            return f"a dict with the key {name!r} ({type(name).__name__}, not str)"
        if not isinstance(value, torch.Tensor):
            return f"{name!r}: {type(value).__name__}"
        if value.numel() != 1:
            return f"{name!r}: a tensor of shape {tuple(value.shape)}"
        if value.requires_grad:
            return (f"{name!r}: a tensor that still requires grad (it keeps the step's graph "
                    "alive until the next log line): return loss.detach()")
    return None


def non_finite(losses: dict[str, torch.Tensor]) -> tuple[str, float] | None:
    """The first loss that is not finite, by name and value, or None."""
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            return name, float(value)
    return None
