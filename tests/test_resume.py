"""Runs survive faults: SIGKILL then --resume equals an uninterrupted run; Ctrl-C checkpoints.

These run `gen` as a real subprocess (with the toy plugin) and signal it, as a user or a
cluster scheduler would.
"""

import json
import signal
import subprocess
import sys
import time

import torch
from checkpoint_helpers import assert_same_latest

from gen.errors import CheckpointError
from gen.run.checkpoints import load_checkpoint

TRAIN = ["train", "toy", "--quiet", "--set", "train.device=cpu", "--set", "train.log_every=5",
         "--set", "train.sample_every=50"]


def start(toy_env, *args):
    return subprocess.Popen([sys.executable, "-m", "gen", *TRAIN, *args], env=toy_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, proc, timeout=60):
    """Poll until ``path`` exists and is not empty (the child must still be running)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, gen_cli, toy_env):
    run = tmp_path / "killed"
    proc = start(toy_env, "--out", str(run), "--set", "train.steps=1000000",
                 "--set", "train.checkpoint_every=5", "--set", "train.keep_checkpoints=3")
    wait_for(run / "checkpoints" / "step-000010.pt", proc)
    proc.kill()  # SIGKILL: no handler runs, possibly mid-way through writing a checkpoint
    proc.wait()
    killed_at = load_checkpoint(run / "checkpoints" / "latest.pt")["step"]
    total = killed_at + 12

    resumed = gen_cli(*TRAIN, "--out", str(run), "--resume", "--set", f"train.steps={total}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {killed_at}" in resumed.stderr
    straight = gen_cli(*TRAIN, "--out", str(tmp_path / "straight"),
                       "--set", f"train.steps={total}", "--set", "train.checkpoint_every=5")
    assert straight.returncode == 0, straight.stderr

    a, b = assert_same_latest(run, tmp_path / "straight", total)
    assert a["data"] == b["data"]
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == total, "no step is logged twice"


def test_sigint_writes_a_checkpoint_and_exits_cleanly(tmp_path, toy_env):
    run = tmp_path / "run"
    proc = start(toy_env, "--out", str(run), "--set", "train.steps=1000000",
                 "--set", "train.checkpoint_every=100000")
    wait_for(run / "metrics.jsonl", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "stopped at step" in err and "--resume" in err
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert latest["step"] >= 5 and f"step-{latest['step']:06d}.pt" in out


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path, gen_cli):
    run = tmp_path / "run"
    assert gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=2").returncode == 0
    path = run / "checkpoints" / "latest.pt"
    ckpt = load_checkpoint(path)
    ckpt["model"] = "dcgan"
    torch.save(ckpt, path)
    out = gen_cli(*TRAIN, "--out", str(run), "--resume", "--set", "train.steps=3")
    assert out.returncode == 1 and "is of model 'dcgan', not 'toy'" in out.stderr
    assert "Traceback" not in out.stderr
    assert CheckpointError.exit_code == 1


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, gen_cli):
    run = tmp_path / "run"
    out = gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=20",
                  "--set", "train.checkpoint_every=5", "--set", "train.log_every=100",
                  "--set", "model.explode_at=7")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "step 10: loss 'd_loss' is nan (non-finite); training stopped" in out.stderr
    assert "step-000005.pt" in out.stderr
    latest = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert latest["step"] == 5
    assert all(torch.isfinite(t).all() for t in latest["state"]["modules"]["generator"].values())
