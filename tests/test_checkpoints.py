"""Checkpoints: atomic, safe to load, and refused with a clear message when wrong."""

import os
from pathlib import Path

import pytest
import torch

from gen.errors import CheckpointError, UsageError
from gen.fileio import atomic_write
from gen.run.checkpoints import find_checkpoint, load_checkpoint, save_checkpoint
from gen.run.layout import RunDir
from gen.seeding import rng_state, set_rng_state


def make_run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    return run


def test_latest_and_pruning(tmp_path):
    run = make_run(tmp_path)
    for step in (1, 2, 3, 4):
        save_checkpoint(run, step, {"w": torch.full((2,), float(step))}, keep=2)
    assert list(run.step_checkpoints()) == [3, 4]
    latest = load_checkpoint(find_checkpoint(run))
    assert latest["step"] == 4 and latest["w"].tolist() == [4.0, 4.0]
    assert load_checkpoint(find_checkpoint(run, "3"))["step"] == 3
    with pytest.raises(CheckpointError, match=r"no checkpoint '1'.*step checkpoints: 3, 4"):
        find_checkpoint(run, "1")
    with pytest.raises(UsageError, match="'latest' or a step number"):
        find_checkpoint(run, "best-ish")


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "x.pt"
    target.write_text("old")

    def fail_halfway(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, fail_halfway)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["x.pt"], "no temporary file is left behind"


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    run = make_run(tmp_path)
    path = save_checkpoint(run, 1, {"w": torch.zeros(1000)}, keep=None)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


class Payload:
    """Unpickling this runs code (creates a file): weights_only loading must refuse it."""

    marker: Path

    def __reduce__(self):
        return (Path.mkdir, (self.marker,))


def test_checkpoint_holding_a_pickled_object_is_refused_and_nothing_runs(tmp_path):
    evil = Payload()
    evil.marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "step": 1, "payload": evil}, path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(path)
    assert not evil.marker.exists()


def test_non_gen_file_is_rejected(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a gen checkpoint"):
        load_checkpoint(path)


def test_rng_state_round_trips_through_a_safe_checkpoint(tmp_path):
    import random

    import numpy as np

    run = make_run(tmp_path)
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    save_checkpoint(run, 1, {"rng": rng_state()}, keep=None)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(2), random.seed(2), np.random.seed(2)
    set_rng_state(load_checkpoint(find_checkpoint(run))["rng"])
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]
