"""The run folder is gen's: user files are never touched, one writer at a time, a run survives a
kill at any point of a checkpoint write, and --resume refuses a spec that no longer matches its
checkpoint.

Commands run as real `gen` subprocesses (with the toy plugin), as a user or a scheduler would.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from gen.errors import RunLockedError
from gen.run.checkpoints import load_checkpoint
from gen.run.layout import RunDir
from gen.run.lock import RunLock

NO_LIKELIHOOD = "needs log_prob and likelihood; 'toy' has no log_prob and no likelihood"

TRAIN = ["train", "toy", "--quiet", "--set", "train.device=cpu", "--set", "train.log_every=5",
         "--set", "train.sample_every=50"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a hash of its bytes: equal snapshots, nothing touched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def start(toy_env, *args, cwd=None):
    return subprocess.Popen([sys.executable, "-m", "gen", *args], env=toy_env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def same_weights(a: Path, b: Path) -> None:
    x, y = load_checkpoint(a), load_checkpoint(b)
    assert x["step"] == y["step"]
    for name, state in y["state"]["modules"].items():
        for key, tensor in state.items():
            assert torch.equal(x["state"]["modules"][name][key], tensor), f"{name}.{key}"
    assert x["data"] == y["data"]


def logged_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


# --- ownership -------------------------------------------------------------------------------


def test_a_folder_holding_user_files_is_refused_and_left_byte_for_byte(tmp_path, gen_cli):
    d = tmp_path / "d"
    d.mkdir()
    (d / "spec.json").write_text('{"mine":1}\n')
    (d / "metrics.jsonl").write_text("notes\n")
    before = snapshot(d)
    out = gen_cli(*TRAIN, "--out", str(d), "--set", "train.steps=4",
                  "--set", "train.checkpoint_every=2")
    assert out.returncode == 2, out.stderr
    assert (f"error: --out {d} is not empty and not a gen run (it holds metrics.jsonl, "
            "spec.json)") in out.stderr
    assert "Traceback" not in out.stderr
    assert snapshot(d) == before and sorted(os.listdir(d)) == ["metrics.jsonl", "spec.json"]


def test_out_dot_in_a_folder_of_user_files_is_refused(tmp_path, gen_cli):
    (tmp_path / "notes.txt").write_text("mine")
    result = gen_cli(*TRAIN, "--out", ".", cwd=tmp_path)
    assert result.returncode == 2 and "--out . is not empty and not a gen run" in result.stderr
    assert os.listdir(tmp_path) == ["notes.txt"]


# --- one writer ------------------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder_and_the_first_run_is_intact(
        tmp_path, toy_env, gen_cli):
    run = tmp_path / "run"
    # Before the first checkpoint: a plain `gen train` into the same folder.
    first = start(toy_env, *TRAIN, "--out", str(run), "--set", "train.steps=1000000",
                  "--set", "train.checkpoint_every=1000000")
    wait_for(run / "metrics.jsonl", first)
    spec = (run / "spec.json").read_text()
    second = gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=7",
                     "--set", "train.log_every=3")
    assert second.returncode == 1, second.stderr
    assert f"{run} is being trained by another gen process (pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=60) == 130
    assert (run / "spec.json").read_text() == spec, "the second writer wrote nothing"
    assert all(step % 5 == 0 for step in logged_steps(run)[:-1]), "no line of the second"
    stopped = load_checkpoint(run / "checkpoints" / "latest.pt")["step"]

    # With checkpoints: `--resume` from another process; readers need no lock.
    first = start(toy_env, *TRAIN, "--out", str(run), "--resume", "--set", "train.steps=1000000",
                  "--set", "train.checkpoint_every=5")
    wait_for(run / "checkpoints" / f"step-{(stopped // 5 + 2) * 5:06d}.pt", first)
    for args in (["--resume"], []):  # the pid says more than "already holds a run"
        second = gen_cli(*TRAIN, "--out", str(run), *args)
        assert second.returncode == 1
        assert f"is being trained by another gen process (pid {first.pid})" in second.stderr
    sampled = gen_cli("sample", str(run), "-n", "4", "--device", "cpu",
                      "--out", str(tmp_path / "s.png"))
    assert sampled.returncode == 0, sampled.stderr
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=60) == 130
    steps = logged_steps(run)
    assert steps == sorted(set(steps)), "one writer: no step logged twice"
    stopped = load_checkpoint(run / "checkpoints" / "latest.pt")["step"]
    resumed = gen_cli(*TRAIN, "--out", str(run), "--resume",
                      "--set", f"train.steps={stopped + 2}")
    assert resumed.returncode == 0, resumed.stderr


def test_a_check_that_fails_at_setup_writes_nothing(tmp_path, gen_cli):
    """The evaluator's checks come before the folder is claimed: for a new run no folder,
    for a resumed one not a byte (metrics lines, grids and best.pt included)."""
    nll = ["--set", "train.eval_every=2", "--set", "train.eval_metric=nll"]
    run = tmp_path / "run"
    out = gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=4", *nll)
    assert out.returncode == 1 and NO_LIKELIHOOD in out.stderr
    assert not run.exists()
    assert gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=4",
                   "--set", "train.log_every=1", "--set", "train.sample_every=1",
                   "--set", "train.checkpoint_every=2", *nll[2:]).returncode == 0
    (run / "checkpoints" / "latest.pt").unlink()  # resumes from step 2: steps 3-4 are redone
    before = snapshot(run)
    out = gen_cli(*TRAIN, "--out", str(run), "--resume", *nll[:2])
    assert out.returncode == 1 and NO_LIKELIHOOD in out.stderr
    assert snapshot(run) == before


def test_nproc_checks_the_resumed_spec_before_launching(tmp_path, gen_cli):
    run = tmp_path / "run"
    assert gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=2").returncode == 0
    spec = json.loads((run / "spec.json").read_text())
    spec["model"]["lr"] = 0.5
    (run / "spec.json").write_text(json.dumps(spec))
    out = gen_cli(*TRAIN, "--out", str(run), "--resume", "--nproc", "2",
                  "--set", "train.steps=4")
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("model.lr: is 0.5 in spec.json") == 1, "once, before any launch"
    assert "Traceback" not in out.stderr


# --- kills and lost files --------------------------------------------------------------------

# Runs `gen` with a fault injected into the checkpoint writer: SIGKILL right before latest.pt is
# pointed at step KILL_STEP's file ("link"), or half-way through writing that file ("write").
KILLING_GEN = textwrap.dedent("""
    import os, runpy, signal, sys
    import gen.run.checkpoints as checkpoints

    step, where = int(os.environ["KILL_STEP"]), os.environ["KILL_IN"]
    real_link, real_save = checkpoints.atomic_link, checkpoints._torch_save

    def link(source, path):
        if where == "link" and source.name == f"step-{step:06d}.pt":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_link(source, path)

    def save(obj, path):
        if where == "write" and obj["step"] == step:
            path.write_bytes(b"the first bytes of a checkpoint")
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save(obj, path)

    checkpoints.atomic_link, checkpoints._torch_save = link, save
    sys.argv = ["gen", *sys.argv[1:]]
    runpy.run_module("gen", run_name="__main__")
""")


@pytest.mark.parametrize("where, step", [("link", 5), ("link", 10), ("write", 10)])
def test_a_kill_inside_a_checkpoint_write_leaves_a_run_that_resumes(tmp_path, toy_env, gen_cli,
                                                                     where, step):
    script = tmp_path / "killing_gen.py"
    script.write_text(KILLING_GEN)
    run = tmp_path / "run"
    args = [*TRAIN, "--set", "train.checkpoint_every=5"]
    killed = subprocess.run([sys.executable, str(script), *args, "--out", str(run),
                             "--set", "train.steps=20"],
                            env={**toy_env, "KILL_STEP": str(step), "KILL_IN": where},
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    checkpoints = run / "checkpoints"
    if where == "link":
        assert (checkpoints / f"step-{step:06d}.pt").is_file()
        assert (checkpoints / "latest.pt").is_file() == (step > 5)
    else:
        assert [p.name for p in checkpoints.glob(".step-000010.tmp-*.pt")], "an orphan is left"
    refused = gen_cli(*args, "--out", str(run))
    assert refused.returncode == 1 and "already holds a run: pass --resume" in refused.stderr

    resumed = gen_cli(*args, "--out", str(run), "--resume", "--set", "train.steps=20")
    assert resumed.returncode == 0, resumed.stderr
    straight = gen_cli(*args, "--out", str(tmp_path / "straight"), "--set", "train.steps=20")
    assert straight.returncode == 0, straight.stderr
    same_weights(checkpoints / "latest.pt", tmp_path / "straight" / "checkpoints" / "latest.pt")
    assert logged_steps(run) == [5, 10, 15, 20]
    assert not [p for p in checkpoints.iterdir() if ".tmp-" in p.name], "orphans are removed"


def test_without_latest_a_run_resumes_from_its_newest_readable_step_file(tmp_path, gen_cli):
    run, straight = tmp_path / "run", tmp_path / "straight"
    args = [*TRAIN, "--set", "train.checkpoint_every=5"]
    assert gen_cli(*args, "--out", str(straight), "--set", "train.steps=15").returncode == 0
    assert gen_cli(*args, "--out", str(run), "--set", "train.steps=10").returncode == 0
    (run / "checkpoints" / "latest.pt").unlink()
    resumed = gen_cli(*args, "--out", str(run), "--resume", "--set", "train.steps=15")
    assert resumed.returncode == 0, resumed.stderr
    assert "latest.pt is missing: resuming from step-000010.pt" in resumed.stderr
    assert "resuming at step 10" in resumed.stderr
    same_weights(run / "checkpoints" / "latest.pt", straight / "checkpoints" / "latest.pt")

    # The newest step file damaged too: the one before it serves.
    (run / "checkpoints" / "latest.pt").unlink()
    newest = run / "checkpoints" / "step-000015.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    resumed = gen_cli(*args, "--out", str(run), "--resume", "--set", "train.steps=15")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from step-000010.pt, the newest step checkpoint that loads; skipped " \
           "step-000015.pt (not a readable checkpoint" in " ".join(resumed.stderr.split())
    same_weights(run / "checkpoints" / "latest.pt", straight / "checkpoints" / "latest.pt")
    assert logged_steps(run) == [5, 10, 15]


# --- what --resume may change ----------------------------------------------------------------


def test_resume_refuses_a_hand_edited_spec_naming_each_field(tmp_path, gen_cli):
    run = tmp_path / "run"
    assert gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=4").returncode == 0
    spec = json.loads((run / "spec.json").read_text())
    spec["model"]["lr"], spec["train"]["batch_size"], spec["data"]["limit"] = 0.5, 16, 100
    (run / "spec.json").write_text(json.dumps(spec))
    before = snapshot(run)
    out = gen_cli(*TRAIN, "--out", str(run), "--resume", "--set", "train.steps=6")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == f"error: invalid spec ({run / 'spec.json'}):"
    assert "  data.limit: is 100 in spec.json, but the run was trained with 256" in lines
    assert "  model.lr: is 0.5 in spec.json, but the run was trained with 0.01" in lines
    assert "  train.batch_size: is 16 in spec.json, but the run was trained with 64" in lines
    assert "Traceback" not in out.stderr
    assert snapshot(run) == before, "nothing written"

    spec["model"]["lr"], spec["train"]["batch_size"], spec["data"]["limit"] = 0.01, 64, 256
    spec["train"]["checkpoint_every"] = 3  # cadence may change, in spec.json as with --set
    (run / "spec.json").write_text(json.dumps(spec))
    out = gen_cli(*TRAIN, "--out", str(run), "--resume", "--set", "train.steps=6")
    assert out.returncode == 0, out.stderr
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["spec"]["train"]["steps"] == 6


def test_resume_never_sets_steps_below_the_step_reached(tmp_path, gen_cli):
    run = tmp_path / "run"
    assert gen_cli(*TRAIN, "--out", str(run), "--set", "train.steps=23").returncode == 0
    before = snapshot(run)
    out = gen_cli(*TRAIN, "--out", str(run), "--resume", "--set", "train.steps=3")
    assert out.returncode == 2
    assert "train.steps: 3 is below the step reached: the run is already at step 23" in out.stderr
    assert snapshot(run) == before
    assert json.loads((run / "spec.json").read_text())["train"]["steps"] == 23


# --- the pieces ------------------------------------------------------------------------------


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path):
    path = tmp_path / ".lock"
    with RunLock(path), pytest.raises(RunLockedError, match=rf"\(pid {os.getpid()}\)"):
        RunLock(path).acquire()
    RunLock(path).acquire().release()  # released: free again
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gen.run.lock import RunLock
        RunLock({str(path)!r}).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    with pytest.raises(RunLockedError, match=rf"\(pid {holder.pid}\)"):
        RunLock(path).acquire()
    holder.kill()
    holder.wait()
    RunLock(path).acquire().release()  # a killed holder leaves no stale lock


def test_a_momentary_probe_is_not_taken_for_a_holder(tmp_path):
    """`check_free` takes the lock for an instant; a writer acquiring at that instant (rank 0
    while rank 1 checks the folder under --nproc) must wait it out, not report the lock's last
    writer as a live holder."""
    import fcntl
    import threading

    path = tmp_path / ".lock"
    RunLock(path).acquire().release()  # a previous writer's pid stays in the file
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the probe, held for 0.1 s
    threading.Timer(0.1, os.close, [fd]).start()
    RunLock(path).acquire().release()
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    threading.Timer(0.1, os.close, [fd]).start()
    RunLock(path).check_free()  # two probes at once: neither reports a holder


def test_claim_removes_orphans_of_killed_writes_and_keeps_everything_else(tmp_path):
    run = RunDir(tmp_path / "run")
    run.samples.mkdir(parents=True)
    run.checkpoints.mkdir()
    run.write_info({"model": "toy"})
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    orphans = [run.checkpoints / ".step-000010.tmp-1.pt", run.root / ".spec.tmp-1.json",
               run.samples / f".sample-step-000004-seed-0.tmp-{gone}.png"]
    kept = [run.samples / f".sample-step-000004-seed-1.tmp-{os.getpid()}.png",  # still writing
            run.samples / "notes.txt", run.checkpoints / "step-000010.pt.bak"]
    for path in orphans + kept:
        path.write_text("x")
    run.claim(resume=False, identity={"model": "toy"}).release()
    assert [p.exists() for p in orphans] == [False] * 3
    assert [p.exists() for p in kept] == [True] * 3
