"""Multi-process training on the CPU (gloo), launched as a user would: `gen train --nproc 2`.

Two processes over a global batch must train the same weights as one process over that batch:
each takes half of every batch and the gradients are averaged before each step.
"""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from gen.run.checkpoints import load_checkpoint

COMMON = ["--quiet", "--set", "train.device=cpu", "--set", "train.batch_size=16",
          "--set", "train.sample_every=100", "--set", "train.log_every=2"]


def weights(run):
    return load_checkpoint(run / "checkpoints" / "latest.pt")


def train(gen_cli, model, out, *args, nproc=1):
    result = gen_cli("train", model, *COMMON, "--out", str(out), "--nproc", str(nproc), *args)
    assert result.returncode == 0, result.stderr
    return result


def test_two_processes_equal_one_over_the_same_global_batch(tmp_path, gen_cli):
    """toy-density draws no randomness in a step, so only float summation order differs."""
    steps = ["--set", "train.steps=8", "--set", "train.checkpoint_every=4"]
    two = train(gen_cli, "toy-density", tmp_path / "two", *steps, nproc=2)
    train(gen_cli, "toy-density", tmp_path / "one", *steps)
    a, b = weights(tmp_path / "two"), weights(tmp_path / "one")
    assert a["step"] == b["step"] == 8 and a["data"] == b["data"]
    diff = (a["state"]["modules"]["net"]["logits"] - b["state"]["modules"]["net"]["logits"])
    assert diff.abs().max() < 1e-6
    assert "x 2 processes" in " ".join(two.stderr.split())
    assert two.stdout.count("run directory:") == 1, "only rank 0 reports"
    # Logged losses are the mean over processes: the same numbers one process logs.
    logged = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").open()]
    single = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").open()]
    assert [r["step"] for r in logged] == [r["step"] for r in single] == [2, 4, 6, 8]
    for r, s in zip(logged, single, strict=True):
        assert r["nll"] == pytest.approx(s["nll"], rel=1e-5)
    assert json.loads((tmp_path / "two" / "run.json").read_text())["processes"] == 2


def test_two_streaming_processes_read_their_shards_and_equal_one_from_memory(
        tmp_path, gen_cli, toy_env):
    """data.storage=stream: process 0 builds the decoded cache, each process reads its half of
    every batch from it; the weights equal one process training from memory."""
    toy_env["GEN_CACHE"] = str(tmp_path / "cache")
    steps = ["--set", "train.steps=6", "--set", "train.checkpoint_every=3",
             "--set", "data.limit=200"]
    two = train(gen_cli, "toy-density", tmp_path / "two", *steps,
                "--set", "data.storage=stream", "--set", "data.workers=1", nproc=2)
    train(gen_cli, "toy-density", tmp_path / "one", *steps, "--set", "data.storage=memory")
    a, b = weights(tmp_path / "two"), weights(tmp_path / "one")
    assert a["data"] == b["data"]
    diff = (a["state"]["modules"]["net"]["logits"] - b["state"]["modules"]["net"]["logits"])
    assert diff.abs().max() < 1e-6
    text = " ".join(two.stderr.split())
    assert text.count("data: decoding 200 images") == 1, "only process 0 decodes"
    assert len(list((tmp_path / "cache" / "data").glob("*/decoded/*.u8"))) == 1


def test_each_process_draws_its_own_noise_and_the_checkpoint_keeps_every_stream(
        tmp_path, gen_cli):
    """toy (a GAN with dropout) draws noise every step: two processes must not draw the same,
    and rank 0's checkpoint must hold both RNG states for an exact resume."""
    train(gen_cli, "toy", tmp_path / "run", "--set", "train.steps=4", nproc=2)
    ckpt = weights(tmp_path / "run")
    assert len(ckpt["rng_ranks"]) == 2
    assert not torch.equal(ckpt["rng_ranks"][0]["torch"], ckpt["rng_ranks"][1]["torch"])


def test_resumed_multi_process_run_equals_an_uninterrupted_one(tmp_path, gen_cli):
    run, straight = tmp_path / "resumed", tmp_path / "straight"
    train(gen_cli, "toy", run, "--set", "train.steps=3", nproc=2)
    resumed = gen_cli("train", "toy", "--quiet", "--out", str(run), "--resume", "--nproc", "2",
                      "--set", "train.steps=6")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at step 3" in " ".join(resumed.stderr.split())
    train(gen_cli, "toy", straight, "--set", "train.steps=6", nproc=2)
    a, b = weights(run), weights(straight)
    assert a["step"] == b["step"] == 6
    for name, state in b["state"]["modules"].items():
        for key, tensor in state.items():
            assert torch.equal(a["state"]["modules"][name][key], tensor), f"{name}.{key}"


def test_batch_that_processes_cannot_share_is_refused_before_launch(tmp_path, gen_cli):
    result = gen_cli("train", "toy", "--quiet", "--out", str(tmp_path / "r"), "--nproc", "3",
                     "--set", "train.batch_size=16")
    assert result.returncode == 2
    assert "train.batch_size" in result.stderr and "multiple of 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("budget", [[], ["--set", "train.max_time=3600"]])
def test_ctrl_c_stops_every_process_after_one_checkpoint(tmp_path, toy_env, budget):
    """With a time budget left or without one, Ctrl-C is an interruption (exit 130), never a
    budget stop."""
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gen", "train", "toy", *COMMON, "--out", str(run), "--nproc",
         "2", "--set", "train.steps=100000000", "--set", "train.checkpoint_every=50", *budget],
        env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = run / "checkpoints" / "step-000050.pt"
    deadline = time.monotonic() + 120
    while not first.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends the launcher
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "SignalException" not in err
    text = " ".join(err.split())
    assert "stopped at step" in text and "--resume --nproc 2" in text
    step = int(text.split("stopped at step ")[1].split(";")[0])
    assert weights(run)["step"] == step and out.count("run directory:") == 1
    assert "time budget" not in text
    assert "stopped" not in (run / "metrics.jsonl").read_text()


def test_a_single_process_run_resumes_on_two(tmp_path, gen_cli):
    """The data position carries over; each process's random stream restarts, and it says so."""
    run = tmp_path / "run"
    train(gen_cli, "toy", run, "--set", "train.steps=3")
    resumed = gen_cli("train", "toy", "--quiet", "--out", str(run), "--resume", "--nproc", "2",
                      "--set", "train.steps=6")
    assert resumed.returncode == 0, resumed.stderr
    text = " ".join(resumed.stderr.split())
    assert "resuming on 2 process(es) a run checkpointed on 1" in text
    ckpt = weights(run)
    assert ckpt["step"] == 6 and ckpt["data"]["position"] == 6 * 16


def test_the_time_budget_stops_every_process_after_the_same_step(tmp_path, gen_cli):
    """Each process has its own clock; they agree to stop at the first step at which any has
    run out, one checkpoint holds both processes' streams, and the planned stop exits 0."""
    run = tmp_path / "run"
    result = train(gen_cli, "toy", run, "--set", "train.steps=100000000",
                   "--set", "train.max_time=3", nproc=2)
    text = " ".join(result.stderr.split())
    assert "on its time budget (train.max_time = 3 s)" in text and "--resume --nproc 2" in text
    ckpt = weights(run)
    assert 0 < ckpt["step"] < 100000000 and len(ckpt["rng_ranks"]) == 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "stopped" in r] == [ckpt["step"]]
