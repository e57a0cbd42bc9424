"""Comparing two runs' latest checkpoints: the resume tests' "equals an uninterrupted run"."""

from pathlib import Path

from gen.testing.kit import assert_same_training_state


def assert_same_latest(a: Path, b: Path, step: int) -> tuple[dict, dict]:
    """Runs ``a`` and ``b`` both reached ``step`` with bit-identical weights of every module
    (and weight average, and schedules); returns their latest checkpoints for further checks."""
    ca, cb = assert_same_training_state(a / "checkpoints" / "latest.pt",
                                        b / "checkpoints" / "latest.pt")
    assert ca["step"] == cb["step"] == step
    return ca, cb
