"""Issue 25, items 1-4 and 11: gen replaces no file of the user's, writes nothing through a link
inside a run, cleans up on SIGTERM as on Ctrl-C, refuses an .npz larger than the free space, and
says only what is true of a stopped run's checkpoint and of who holds a folder."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from cli_runs import CPU, invoke, trained_copies, tree

from gen.errors import WriteError
from gen.run.checkpoints import load_checkpoint
from gen.run.layout import RunDir
from gen.run.lock import RunLock

_RUNS: dict = {}


@pytest.fixture
def runs(toy_plugins, tmp_path_factory):
    """Fresh copies of 2-step runs of toy (a latent), toy-vae (an encoder) and toy-density."""
    return trained_copies(_RUNS, ("toy", "toy-vae", "toy-density"), tmp_path_factory)


def assert_fails(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


# --- 1. a file given as --out is replaced only with --force ----------------------------------

def test_sample_and_encode_refuse_an_existing_file_unless_forced(runs, tmp_path):
    run = runs["toy-vae"]
    users = {tmp_path / "faces.npz": b"a user's data set", tmp_path / "photo.png": b"a photo",
             run / "samples" / "step-000002.png": (run / "samples" / "step-000002.png")
             .read_bytes()}
    for path, content in users.items():
        path.write_bytes(content)
        assert_fails(invoke("sample", run, "-n", 4, "--device", "cpu", "--out", path), 2,
                     f"error: --out {path} exists; pass --force to replace it")
        assert path.read_bytes() == content
    z = tmp_path / "z.npz"
    z.write_bytes(b"a user's latents")
    assert_fails(invoke("encode", run, "--device", "cpu", "--out", z), 2,
                 f"error: --out {z} exists; pass --force to replace it")
    assert z.read_bytes() == b"a user's latents"

    forced = invoke("sample", run, "-n", 4, "--device", "cpu", "--out", tmp_path / "faces.npz",
                    "--force")
    assert forced.exit_code == 0, forced.output
    assert np.load(tmp_path / "faces.npz")["images"].shape[0] == 4
    assert invoke("encode", run, "--device", "cpu", "--out", z, "--force").exit_code == 0
    assert np.load(z)["z"].ndim == 2
    for _ in range(2):  # the default file is gen's own in the run: drawn again, replaced
        assert invoke("sample", run, "-n", 4, "--device", "cpu").exit_code == 0


# --- 2. nothing is written through a link inside a run ---------------------------------------

def test_a_link_inside_a_run_is_refused_by_every_writer_and_its_target_untouched(runs,
                                                                               tmp_path):
    run = runs["toy-density"]
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "step-000004.png").write_bytes(b"someone's picture")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")

    shutil.rmtree(run / "samples")
    (run / "samples").symlink_to(victim)
    before = tree(victim)
    resume = ["train", "toy-density", "--out", run, "--resume", "-q", "--set", "train.steps=6"]
    assert_fails(invoke(*resume), 1, f"{run / 'samples'} is a symbolic link (to {victim})",
                 "gen writes nothing through a link inside a run")
    assert_fails(invoke("sample", run, "-n", 4, "--device", "cpu"), 1,
                 f"{run / 'samples'} is a symbolic link")
    assert tree(victim) == before
    (run / "samples").unlink()

    for name in ("metrics.jsonl", ".lock"):
        kept = (run / name).read_bytes() if (run / name).exists() else None
        (run / name).unlink(missing_ok=True)
        (run / name).symlink_to(notes)
        assert_fails(invoke(*resume), 1, f"{run / name} is a symbolic link")
        assert notes.read_text() == "my notes\n"
        (run / name).unlink()
        if kept is not None:
            (run / name).write_bytes(kept)
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(notes)
    assert_fails(invoke("evaluate", run, "--metrics", "nll", "--device", "cpu"), 1,
                 f"{run / 'metrics.jsonl'} is a symbolic link")
    assert notes.read_text() == "my notes\n"


def test_a_run_folder_that_is_itself_a_link_is_the_users_choice(runs, tmp_path):
    link = tmp_path / "link-to-run"
    link.symlink_to(runs["toy-density"])
    resumed = invoke("train", "toy-density", "--out", link, "--resume", "-q",
                     "--set", "train.steps=3")
    assert resumed.exit_code == 0, resumed.output
    assert load_checkpoint(runs["toy-density"] / "checkpoints" / "latest.pt")["step"] == 3


def test_the_lock_is_never_opened_through_a_link(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    (tmp_path / ".lock").symlink_to(notes)
    with pytest.raises(WriteError):
        RunLock(tmp_path / ".lock").acquire()
    assert notes.read_text() == "my notes\n"


# --- 3. SIGTERM cleans up as Ctrl-C does; an .npz must fit on its disk -----------------------

def test_sigterm_during_a_large_sample_leaves_no_temporary_file(tmp_path, toy_env, gen_cli):
    run = tmp_path / "run"
    assert gen_cli("train", "toy-density", "--out", str(run), "-q", *CPU).returncode == 0
    out = tmp_path / "out" / "x.npz"
    out.parent.mkdir()
    n = min(10**8, shutil.disk_usage(tmp_path).free // 200)  # fits, and takes long to draw
    proc = subprocess.Popen([sys.executable, "-m", "gen", "sample", str(run), "-n", str(n),
                             "--device", "cpu", "--out", str(out)],
                            env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in out.parent.glob(".x.tmp-*.npz")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "error: interrupted" in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == [], "no temporary file, no half-written x.npz"


def test_an_npz_larger_than_the_free_space_is_refused_before_any_work(runs, tmp_path,
                                                                      monkeypatch):
    import gen.handle

    def no_drawing(*args, **kwargs):  # were the check missing, drawing would fill the disk
        raise AssertionError("drawing began")

    real = gen.handle.Run.sample_batches
    monkeypatch.setattr(gen.handle.Run, "sample_batches", no_drawing)
    monkeypatch.setattr(gen.handle.Run, "interpolate", no_drawing)
    run = runs["toy-density"]  # 1x8x8 images: 64 bytes each
    assert_fails(invoke("sample", run, "-n", 10**15, "--device", "cpu", "--out",
                        tmp_path / "big.npz"), 2,
                 "-n 1000000000000000 makes an .npz of about", "(1000000000000000 images of "
                 "1x8x8 bytes), more than the", f"free on the disk of {tmp_path / 'big.npz'}")
    assert_fails(invoke("sample", runs["toy"], "--interpolate", "--between", "latents",
                        "-n", 10**14, "--device", "cpu", "--out", tmp_path / "i.npz"), 2,
                 "(1000000000000000 images of", "or fewer")
    assert sorted(p.name for p in tmp_path.iterdir()) == []

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=2**20))
    largest = (2**20 - 4096) // 64
    assert_fails(invoke("sample", run, "-n", largest + 1, "--device", "cpu", "--out",
                        tmp_path / "s.npz"), 2, f"use -n {largest} or fewer")
    monkeypatch.setattr(gen.handle.Run, "sample_batches", real)
    fits = invoke("sample", run, "-n", largest, "--device", "cpu", "--out", tmp_path / "s.npz")
    assert fits.exit_code == 0, fits.output
    assert (tmp_path / "s.npz").stat().st_size <= 2**20


def test_sigterm_is_an_interrupt_inside_the_commands_that_write():
    from gen.cli.interrupt import terminate_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) is before


# --- 4. a stopped run says only what is true of its checkpoint -------------------------------

def test_a_budget_shorter_than_one_step_says_there_is_nothing_to_resume(toy_plugins, tmp_path):
    run = tmp_path / "run"
    stopped = invoke("train", "toy", "--out", run, "-q", *CPU, "--set", "train.steps=5",
                     "--set", "train.max_time=1e-9")
    assert stopped.exit_code == 0, stopped.output
    assert "stopped before its first step on its time budget (train.max_time = 1e-09 s): " \
           "nothing was trained and no checkpoint written" in stopped.output
    assert "checkpoint written." not in stopped.output and "--resume" not in stopped.output
    assert not RunDir(run).has_checkpoints()
    hint = (f"`gen train toy --spec {run / 'spec.json'} --out {run} "
            "--set train.max_time=SECONDS`")
    assert hint in stopped.output
    again = invoke("train", "toy", "--spec", run / "spec.json", "--out", run, "-q",
                   "--set", "train.max_time=3600")
    assert again.exit_code == 0, again.output
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 5

    latest = (run / "checkpoints" / "latest.pt").read_bytes()
    resumed = invoke("train", "toy", "--out", run, "--resume", "-q",
                     "--set", "train.steps=9", "--set", "train.max_time=1e-9")
    assert resumed.exit_code == 0, resumed.output
    assert ("stopped at step 5 on its time budget (train.max_time = 1e-09 s); its checkpoint "
            f"of step 5 is kept. Continue with `gen train toy --out {run} --resume`."
            ) in resumed.output
    assert (run / "checkpoints" / "latest.pt").read_bytes() == latest


def test_a_full_disk_before_the_first_checkpoint_hints_at_training_again(toy_plugins, tmp_path,
                                                                         monkeypatch):
    real_save = torch.save

    def full(obj, f, *args, **kwargs):  # a disk that is full when the first checkpoint comes
        if isinstance(obj, dict) and "step" in obj:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full)
    run = tmp_path / "run"
    failed = invoke("train", "toy", "--out", run, "-q", *CPU, "--set", "train.steps=4")
    assert_fails(failed, 1, "no space left on device. no checkpoint was written before, so "
                 "there is nothing to resume; free some space, then train it again with "
                 f"`gen train toy --spec {run / 'spec.json'} --out {run}`")
    assert "--resume" not in failed.output
    monkeypatch.setattr(torch, "save", real_save)  # space freed: the hint works
    again = invoke("train", "toy", "--spec", run / "spec.json", "--out", run, "-q")
    assert again.exit_code == 0, again.output
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 4


def test_stop_messages_without_a_budget():
    from gen.training.stopping import stop_message

    run = RunDir("runs/x")
    assert stop_message("toy", run, 0, False, None, None) == (
        "stopped before its first step: nothing was trained and no checkpoint written, so "
        "there is nothing to resume. Start it again: `gen train toy --spec runs/x/spec.json "
        "--out runs/x`.")
    assert stop_message("toy", run, 7, True, None, 2) == (
        "stopped at step 7; checkpoint written. Continue with `gen train toy --out runs/x "
        "--resume --nproc 2`.")


# --- 11. two `gen train` racing into one new folder ------------------------------------------

def test_the_loser_of_a_race_into_a_new_folder_is_told_who_holds_it(toy_plugins, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run / ".lock"):  # the winner, half-way through writing run.json
        (run / f".run.tmp-{os.getpid()}.json").write_text("{")
        assert_fails(invoke("train", "toy", "--out", run, "-q", *CPU), 1,
                     f"{run} is being trained by another gen process (pid {os.getpid()})")
    (run / f".run.tmp-{os.getpid()}.json").unlink()
    (run / ".write-test-0123456789abcdef0123456789abcdef").write_text("ok")  # the probe
    started = invoke("train", "toy", "--out", run, "-q", *CPU)
    assert started.exit_code == 0, started.output
