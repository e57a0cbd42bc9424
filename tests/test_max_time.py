"""train.max_time: a wall-clock budget that stops a run as Ctrl-C does (checkpoint, grid,
resumable), records why, and exits 0; the budget may change on --resume."""

import json

import pytest
from checkpoint_helpers import assert_same_latest

import gen
from gen import specs
from gen.run.checkpoints import load_checkpoint

TRAIN = ["train", "toy", "--quiet", "--set", "train.device=cpu", "--set", "train.log_every=5",
         "--set", "train.sample_every=1000000", "--set", "train.checkpoint_every=1000000"]


@pytest.mark.parametrize("value,seconds", [(300, 300.0), ("300", 300.0), ("00:05:00", 300.0),
                                           ("5:00", 300.0), ("1:02:03.5", 3723.5)])
def test_max_time_takes_seconds_or_a_clock_time(value, seconds):
    assert specs.TrainSpec(max_time=value).max_time == seconds


@pytest.mark.parametrize("value", ["5 minutes", "1:60:00", "0:0:75", "1:2:3:4", 0, -5, "inf"])
def test_a_bad_max_time_names_the_field(value, gen_cli, tmp_path):
    result = gen_cli(*TRAIN, "--out", str(tmp_path / "run"), "--set", f"train.max_time={value}")
    assert result.returncode == 2, result.stderr
    assert "train.max_time" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_budget_stops_the_run_like_ctrl_c_and_resume_equals_a_straight_run(tmp_path,
                                                                                gen_cli):
    run = tmp_path / "budget"
    stopped = gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=100000000",
                      "--set", "train.max_time=1.5")
    assert stopped.returncode == 0, stopped.stderr  # a planned stop, not a failure
    assert "on its time budget (train.max_time = 1.5 s)" in stopped.stderr
    assert "--resume" in stopped.stderr
    step = load_checkpoint(run / "checkpoints" / "latest.pt")["step"]
    assert 0 < step < 100000000
    assert (run / "samples" / f"step-{step:06d}.png").is_file()  # the grid of the step reached
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["step"] == step and record["stopped"]["reason"] == "max_time"
    assert record["stopped"]["max_time_s"] == 1.5 and record["stopped"]["train_s"] >= 1.5

    total = step + 7  # the budget may change (here: go) on --resume
    resumed = gen_cli(*TRAIN, "--out", str(run), "--resume", "--set", f"train.steps={total}",
                      "--set", "train.max_time=3600")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "spec.json").read_text())["train"]["max_time"] == 3600
    straight = gen_cli(*TRAIN, "--out", str(tmp_path / "straight"),
                       "--set", f"train.steps={total}")
    assert straight.returncode == 0, straight.stderr
    assert_same_latest(run, tmp_path / "straight", total)
    # The stop stays in the history; the resumed run logged on from there.
    history = gen.load_run(run).metrics()
    assert [r["step"] for r in history if "stopped" in r] == [step]
    assert history[-1]["step"] == total


def test_a_run_that_finishes_within_its_budget_records_no_stop(tmp_path, gen_cli):
    run = tmp_path / "quick"
    done = gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=10",
                   "--set", "train.max_time=00:10:00")
    assert done.returncode == 0, done.stderr
    assert "time budget" not in done.stderr
    assert not any("stopped" in r for r in gen.load_run(run).metrics())
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 10
