"""Comparing two runs' latest checkpoints: the resume tests' "equals an uninterrupted run"."""

from pathlib import Path

import torch

from gen.run.checkpoints import load_checkpoint


def assert_same_latest(a: Path, b: Path, step: int) -> tuple[dict, dict]:
    """Runs ``a`` and ``b`` both reached ``step`` with bit-identical weights of every module;
    returns their latest checkpoints for further checks."""
    ca = load_checkpoint(a / "checkpoints" / "latest.pt")
    cb = load_checkpoint(b / "checkpoints" / "latest.pt")
    assert ca["step"] == cb["step"] == step
    for name, state in cb["state"]["modules"].items():
        for key, tensor in state.items():
            assert torch.equal(ca["state"]["modules"][name][key], tensor), f"{name}.{key}"
    return ca, cb
