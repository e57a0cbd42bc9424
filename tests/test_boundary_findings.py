"""What the boundary sweep (test_boundary_sweep.py) found, each pinned by a test of its own:
device names and paths that are not what they seem, a torchrun environment that does not hold
together, batch and model sizes past what the model or the machine can take, the Python API
given values of the wrong type, and a plugin's error pages long."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_runs import CPU, trained_copies, tree
from click.testing import CliRunner

import gen
from gen.cli.main import cli

_RUNS: dict[str, Path] = {}


@pytest.fixture
def runs(toy_plugins, tmp_path_factory):
    return trained_copies(_RUNS, ("toy", "toy-density", "toy-vae"), tmp_path_factory)


def run_cli(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=True)


def one_error(result, code: int, *words: str) -> None:
    """Exit ``code`` with one ``error:`` line holding ``words``, and no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "error:" in result.output, result.output
    for word in words:
        assert word in result.output, result.output


# --- device names and paths ------------------------------------------------------------------


@pytest.mark.parametrize("device", ["0", "\t", "gpu", "cuda:x", "cpu "])
def test_a_device_that_is_no_device_is_exit_2_naming_it(runs, device):
    before = tree(runs["toy"])
    one_error(run_cli("sample", runs["toy"], "-n", "2", "--device", device), 2, "device",
              "expected auto, cpu, mps, cuda or cuda:N")
    assert tree(runs["toy"]) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for a GPU this machine lacks")
def test_a_cuda_device_on_a_machine_without_one_is_named(runs):
    one_error(run_cli("sample", runs["toy"], "-n", "2", "--device", "cuda:3"), 1, "cuda:3")


def test_a_cuda_index_beyond_the_gpus_present_is_named(monkeypatch):
    """cuda:3 on a machine of one GPU (simulated: CI has none) failed at the first tensor."""
    from gen.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(gen.GenError, match=r"'cuda:3' but this machine has 1 CUDA device"):
        resolve_device("cuda:3", what="--device")


@pytest.mark.parametrize("command", [
    ["sample", "{toy}", "-n", "2", "--device", "cpu", "--out", "~nosuchuser-gen/x.npz"],
    ["encode", "{toy-vae}", "--device", "cpu", "--out", "~nosuchuser-gen/z.npz"],
    ["stats", "bundled-mnist", "-n", "10", "--device", "cpu", "--out", "~nosuchuser-gen/s.npz"],
    ["evaluate", "{toy}", "--device", "cpu", "-n", "10", "--reference", "~nosuchuser-gen/x"],
    ["train", "toy", "-q", *CPU, "--set", "data.dataset=image-folder",
     "--set", "data.root=~nosuchuser-gen/images", "--out", "{tmp}/new"],
])
def test_a_home_that_cannot_be_expanded_is_a_clean_error(runs, tmp_path, command):
    """``~user`` of no such user (and ``~`` with no home) made Path.expanduser raise a
    RuntimeError that escaped as a traceback."""
    args = [a.format(**{k: str(v) for k, v in runs.items()}, tmp=tmp_path) for a in command]
    result = run_cli(*args)
    one_error(result, 2, "~nosuchuser-gen", "cannot expand '~'")
    assert not (tmp_path / "new").exists()


# --- the torchrun environment ----------------------------------------------------------------


@pytest.mark.parametrize(("env", "words"), [
    ({"WORLD_SIZE": "2"}, ["$WORLD_SIZE is 2 but $RANK is unset"]),
    ({"RANK": "1"}, ["$RANK is set but $WORLD_SIZE is not"]),
    ({"LOCAL_RANK": "x"}, ["$LOCAL_RANK is 'x'"]),
    ({"WORLD_SIZE": "0"}, ["$WORLD_SIZE is 0"]),
    ({"WORLD_SIZE": "2", "RANK": "5"}, ["$RANK is 5, outside $WORLD_SIZE=2"]),
    ({"WORLD_SIZE": "2", "RANK": "0"}, ["$MASTER_ADDR is unset"]),
    ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "localhost", "MASTER_PORT": "99999999"},
     ["$MASTER_PORT is 99999999"]),
])
def test_a_torchrun_environment_that_does_not_hold_together_is_exit_2(toy_plugins, tmp_path,
                                                                      env, words):
    """$WORLD_SIZE alone ended in a KeyError traceback; $RANK=1 alone trained silently as a
    process that prints nothing."""
    result = run_cli("train", "toy", "-q", *CPU, "--out", tmp_path / "run", env=env)
    one_error(result, 2, *words, "gen train --nproc N")
    assert not (tmp_path / "run").exists()
    assert result.output.startswith("error:"), "no '[rank None]' before the message"


# --- batch and model sizes -------------------------------------------------------------------


def test_a_batch_below_the_models_smallest_is_refused_before_training(toy_plugins, tmp_path,
                                                                       monkeypatch):
    """A network with BatchNorm1d cannot train on one image: gen said so only through the
    plugin's ValueError, after the run folder was made."""
    from toy_plugin.model import Toy

    monkeypatch.setattr(Toy, "min_batch_size", property(lambda self: 3))
    result = run_cli("train", "toy", "-q", *CPU, "--set", "train.batch_size=2",
                     "--out", tmp_path / "run")
    one_error(result, 2, "train.batch_size", "needs at least 3 images")
    assert not (tmp_path / "run").exists()


def test_min_batch_size_follows_batch_norm_over_features():
    from torch import nn

    from gen.model import Model

    class Plain(Model):
        def __init__(self, net):
            self.modules = {"net": net}

        train_step = sample = None

    assert Plain(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))).min_batch_size == 2
    assert Plain(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))).min_batch_size == 1
    assert Plain(nn.Linear(2, 2)).min_batch_size == 1


def test_a_model_too_large_for_memory_is_refused_before_it_is_built(toy_plugins, tmp_path):
    """model.hidden=2**32 asked the allocator for a terabyte inside the plugin's __init__;
    a size in between could be allocated and then killed by the kernel."""
    result = run_cli("train", "toy", "-q", *CPU, "--set", f"model.hidden={2**32}",
                     "--out", tmp_path / "run")
    one_error(result, 2, "model 'toy'", "GiB of weights", "model.* sizes smaller")
    assert not (tmp_path / "run").exists()


def test_an_overflowing_size_is_one_line_not_pages_of_cpp_frames(toy_plugins, tmp_path):
    result = run_cli("train", "toy", "-q", *CPU, "--set", f"model.latent_dim={2**63}",
                     "--out", tmp_path / "run")
    one_error(result, 1, "model 'toy' of plugin 'toy-plugin' raised TypeError",
              "sizes are too large")
    assert "frame #" not in result.output and len(result.output.splitlines()) <= 4


# --- the Python API --------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "value", "name"), [
    ("sample", True, "n"), ("sample", 4.0, "n"), ("sample", "4", "n"), ("sample", 0, "n"),
    ("sample", -1, "n"), ("sample", math.nan, "n"),
    ("seed", -1, "seed"), ("seed", 2**64, "seed"), ("seed", 1.5, "seed"),
    ("batch_size", 0, "batch_size"), ("batch_size", None, "batch_size"),
    ("labels", "ab", "labels"), ("labels", [1.5], "labels"), ("labels", True, "labels"),
    ("interpolate", 0, "rows"), ("interpolate", 2**40, "rows"),
    ("evaluate_n", 0, "n"), ("evaluate_n", "10", "n"), ("evaluate_limit", -0.0, "limit"),
    ("evaluate_metrics", [4], "metrics"), ("evaluate_metrics", b"fid", "metrics"),
    ("evaluate_batch", False, "batch_size"), ("checkpoint", 1.5, "checkpoint"),
    ("checkpoint", None, "checkpoint"), ("device", 0, "device"), ("path", 4, "path"),
    ("path", "", "path"),
])
def test_the_python_api_names_the_argument_of_the_wrong_type_or_size(runs, call, value, name):
    """These ended in TypeErrors from torch (``n=4.0``, ``seed=1.5``), a torch.cat of nothing
    (``n=0``), an allocation of terabytes (``rows=2**40``), or ran with a bool taken for 1."""
    run = runs["toy"]
    calls = {
        "sample": lambda: gen.load_run(run, device="cpu").sample(value),
        "seed": lambda: gen.load_run(run, device="cpu").sample(2, seed=value),
        "batch_size": lambda: gen.load_run(run, device="cpu").sample(2, batch_size=value),
        "labels": lambda: gen.load_run(run, device="cpu").sample(2, labels=value),
        "interpolate": lambda: gen.load_run(runs["toy-vae"], device="cpu").interpolate(value),
        "evaluate_n": lambda: gen.load_run(run, device="cpu").evaluate("fid", n=value),
        "evaluate_limit": lambda: gen.load_run(run, device="cpu").evaluate("fid", limit=value),
        "evaluate_metrics": lambda: gen.load_run(run, device="cpu").evaluate(value),
        "evaluate_batch": lambda: gen.load_run(run, device="cpu").evaluate(
            "fid", n=4, batch_size=value),
        "checkpoint": lambda: gen.load_run(run, checkpoint=value, device="cpu"),
        "device": lambda: gen.load_run(run, device=value).model,
        "path": lambda: gen.load_run(value),
    }
    with pytest.raises(gen.UsageError, match=f"^{name}[: ]"):
        calls[call]()


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"name": 4}, "name"), ({"name": ""}, "name"), ({"spec": 4}, "spec"),
    ({"overrides": 4}, "overrides"), ({"overrides": [b"train.steps=1"]}, "overrides"),
    ({"out": ""}, "out"), ({"resume": "yes"}, "resume"),
])
def test_train_names_the_argument_of_the_wrong_type(toy_plugins, tmp_path, kwargs, name):
    """``out=""`` used to fall back silently to runs/NAME-DATA; the others were TypeErrors."""
    args = {"name": "toy", "out": tmp_path / "run", "progress": False, **kwargs}
    with pytest.raises(gen.UsageError, match=f"^{name}[: ]"):
        gen.train(**args)
    assert not (tmp_path / "run").exists()


def test_sampling_more_images_than_memory_holds_is_refused_before_drawing(runs, monkeypatch):
    monkeypatch.setattr("gen.resources.available_memory", lambda: 10**6)
    with pytest.raises(gen.UsageError, match=r"n=100,000: .* sample_batches"):
        gen.load_run(runs["toy"], device="cpu").sample(100_000)
    batches = gen.load_run(runs["toy"], device="cpu").sample_batches(100_000, batch_size=7)
    assert next(batches).shape[0] == 7, "sample_batches holds one batch, so it is not refused"


def test_numpy_and_torch_integers_are_counts(runs):
    import numpy as np

    run = gen.load_run(runs["toy"], device="cpu")
    assert run.sample(np.int64(3), seed=torch.tensor(2)).shape[0] == 3


# --- a plugin's long error -------------------------------------------------------------------


def test_a_plugin_error_of_many_lines_is_cut_to_its_first():
    from gen.plugin_code import brief

    long = RuntimeError("first line\n" + "frame #1: junk\n" * 50)
    assert brief(long) == "RuntimeError('first line'...)"
    assert brief(ValueError("short")) == "ValueError('short')"
    assert brief(SystemExit(0)) == "SystemExit(0)"
    assert "too large" in brief(MemoryError())


def test_the_launch_check_imports_no_torch():
    code = ("import os, sys; os.environ['WORLD_SIZE'] = '1'; from gen.launch import launch; "
            "launch(); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


# --- output folders --------------------------------------------------------------------------


@pytest.mark.parametrize("out", ["new/deeper/x.npz", "new/deeper/x.png", "new/deeper/"])
def test_a_draw_that_fails_leaves_no_folder_it_made(runs, tmp_path, monkeypatch, out):
    """`--out new/deeper/x.npz` made both folders before drawing, and left them empty when the
    draw failed."""
    def fail(*args, **kwargs):
        raise gen.GenError("the draw failed")
        yield

    monkeypatch.setattr("gen.handle.Run.sample_batches", fail)
    result = run_cli("sample", runs["toy"], "-n", "3", "--device", "cpu", "--out",
                     f"{tmp_path}/{out}")
    one_error(result, 1, "the draw failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_folder_of_more_pngs_than_the_disk_has_files_for_is_refused_up_front(runs, tmp_path):
    """`-n 10**12 --out DIR/` listed 10**12 file names before anything else."""
    result = run_cli("sample", runs["toy"], "-n", str(10**12), "--device", "cpu", "--out",
                     f"{tmp_path}/pngs/")
    one_error(result, 2, "1,000,000,000,000 images make 1,000,000,000,000 PNG files")
    assert not (tmp_path / "pngs").exists()


@pytest.mark.parametrize("command", [
    ["sample", "{toy}", "-n", "2", "--device", "cpu", "--out", "{long}.npz"],
    ["encode", "{long}", "--device", "cpu", "--out", "{tmp}/z.npz"],
    ["stats", "{long}", "-n", "10", "--device", "cpu", "--out", "{tmp}/s.npz"],
    ["stats", "bundled-mnist", "-n", "10", "--device", "cpu", "--out", "{deep}/s.npz"],
    ["train", "toy", "-q", *CPU, "--out", "{tmp}/{long}"],
])
def test_a_name_or_path_past_the_os_limits_is_exit_2_naming_it(runs, tmp_path, command):
    """A name of 256 bytes, or a path of 5,000, ended in OSError 'File name too long'."""
    fill = {"toy": runs["toy"], "long": "n" * 256, "tmp": tmp_path,
            "deep": "/".join(["p" * 200] * 25)}
    result = run_cli(*[a.format(**fill) for a in command])
    one_error(result, 2, "the OS takes")
    assert list(tmp_path.iterdir()) == []


def test_watch_beyond_a_day_is_refused(runs, tmp_path):
    """--watch 9223372036854775807 ended in OverflowError from time.sleep after the first
    write."""
    result = run_cli("report", runs["toy"], "--out", tmp_path / "r.html", "--watch",
                     str(2**63 - 1))
    one_error(result, 2, "--watch")
    assert not (tmp_path / "r.html").exists()


def test_evaluate_refuses_a_linked_metrics_log_before_scoring(runs, tmp_path, monkeypatch):
    """The link was refused only when the records were written, after all the scoring."""
    run = runs["toy-density"]
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(notes)

    def scored(*args, **kwargs):
        raise AssertionError("scored before the link was refused")

    monkeypatch.setattr("gen.evaluation.evaluate.evaluate", scored)
    one_error(run_cli("evaluate", run, "--metrics", "nll", "--device", "cpu"), 1,
              "is a symbolic link")
    assert notes.read_text() == "mine\n"


@pytest.mark.parametrize("value", [".", "4522", "cache"])
def test_a_relative_gen_cache_is_refused_and_list_models_writes_nothing_there(
        runs, tmp_path, monkeypatch, value):
    """$GEN_CACHE=. made `gen list-models` write capabilities.json into whatever folder it ran
    in (the XDG rules refuse a relative cache path for this reason)."""
    monkeypatch.chdir(tmp_path)
    listed = run_cli("list-models", env={"GEN_CACHE": value})
    assert listed.exit_code == 0, listed.output
    assert list(tmp_path.iterdir()) == [], "the listing only costs time without its cache"
    result = run_cli("evaluate", runs["toy"], "--metrics", "fid", "-n", "10", "--device", "cpu",
                     env={"GEN_CACHE": value})
    one_error(result, 2, f"$GEN_CACHE is '{value}': expected an absolute path")
    assert list(tmp_path.iterdir()) == []


def test_sweep_jobs_beyond_the_cores_is_refused(toy_plugins, tmp_path):
    """--jobs 9223372036854775807 made a list of that many worker threads: MemoryError."""
    result = run_cli("sweep", "toy", "--trials", "1", "--jobs", str(2**63 - 1), "--out",
                     tmp_path / "sweep", "--space", '{"model.lr": {"uniform": [0.001, 0.1]}}')
    one_error(result, 2, "--jobs: expected a whole number from 1 to", "at most 4 per core")
    assert not (tmp_path / "sweep").exists()


# --- from the 400-example run -----------------------------------------------------------------


def test_a_number_past_pythons_digit_limit_is_a_spec_error(toy_plugins, tmp_path):
    """A 5,000-digit number in --set or a spec file ended in json's ValueError (Python reads no
    integer of more than 4,300 digits from text)."""
    huge = "9" * 5000
    one_error(run_cli("train", "toy", "-q", *CPU, "--set", f"data={huge}", "--out",
                      tmp_path / "a"), 2, "data: cannot read this JSON: Exceeds the limit")
    (tmp_path / "spec.json").write_text(f'{{"model": {{"hidden": {huge}}}}}')
    one_error(run_cli("train", "toy", "-q", "--spec", tmp_path / "spec.json", "--out",
                      tmp_path / "b"), 2, "cannot read this JSON")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]


@pytest.mark.parametrize("command", ["stats", "sample", "evaluate"])
def test_a_seed_past_what_a_generator_takes_is_exit_2(runs, tmp_path, command):
    """gen stats --seed 10**30 ended in torch's 'Overflow when unpacking long long'."""
    args = {"stats": ["stats", "bundled-mnist", "-n", "20", "--out", tmp_path / "s.npz"],
            "sample": ["sample", runs["toy"], "-n", "2", "--out", tmp_path / "s.npz"],
            "evaluate": ["evaluate", runs["toy"], "-n", "10", "--metrics", "fid"]}[command]
    one_error(run_cli(*args, "--device", "cpu", "--seed", str(10**30)), 2, "--seed")
    assert list(tmp_path.iterdir()) == []


def test_encode_names_a_file_in_the_way_before_encoding(runs, tmp_path, monkeypatch):
    """--out file.txt/z.npz failed with FileExistsError, after all the encoding."""
    (tmp_path / "file.txt").write_text("mine")
    monkeypatch.setattr("gen.handle.Run.encode", lambda *a, **k: pytest.fail("encoded first"))
    one_error(run_cli("encode", runs["toy-vae"], "--device", "cpu", "--out",
                      tmp_path / "file.txt" / "z.npz"), 1, "a file is in the way")
    assert (tmp_path / "file.txt").read_text() == "mine"


@pytest.mark.parametrize("command", [["sweep", "toy", "--trials", "1"], ["sample", "{toy}"],
                                     ["report", "{toy}"], ["train", "toy", "-q", *CPU],
                                     ["sample", ""]])
def test_an_empty_path_is_refused_not_read_as_the_current_folder(runs, tmp_path, monkeypatch,
                                                                  command):
    """gen sweep --out '' wrote its study and logs into the working folder; gen sample
    --out '' wrote to the run's default file."""
    monkeypatch.chdir(tmp_path)
    args = [a.format(toy=runs["toy"]) for a in command]
    out = [] if args == ["sample", ""] else ["--out", ""]
    one_error(run_cli(*args, *out), 2, "the path is empty")
    assert list(tmp_path.iterdir()) == []


# --- from a review of the above ---------------------------------------------------------------


def test_a_space_of_the_wrong_field_type_is_one_line_naming_the_field(runs):
    result = run_cli("evaluate", runs["toy"], "--metrics", "fid", "-n", "10", "--device", "cpu",
                     "--space", '{"dataset": 3}')
    one_error(result, 2, "--space: data.dataset:")
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_paths_and_integer_scalars_are_taken_where_the_api_takes_them(runs, tmp_path,
                                                                      monkeypatch):
    import numpy as np

    from gen.evaluation.options import EvalOptions

    options = EvalOptions(reference=tmp_path, reference_stats=tmp_path / "s.npz",
                          extractor_weights=Path("w.pth"))
    assert (options.reference, options.reference_stats) == (str(tmp_path),
                                                             str(tmp_path / "s.npz"))
    assert gen.load_run(runs["toy"], checkpoint=np.int64(2)).step == 2
    monkeypatch.setenv("HOME", str(tmp_path))
    written = gen.write_report([runs["toy"]], "~/r.html")
    assert written == tmp_path / "r.html" and written.is_file()


@pytest.mark.parametrize(("call", "name"), [
    (lambda run: run.evaluate("nll", limit=8, record="no"), "record"),
    (lambda run: run.evaluate("nll", limit=8, notes="print"), "notes"),
])
def test_flags_and_callbacks_of_the_wrong_type_are_named(runs, call, name):
    """record="no" appended a record, as if it were True."""
    run = gen.load_run(runs["toy-density"], device="cpu")
    before = (runs["toy-density"] / "metrics.jsonl").read_text()
    with pytest.raises(gen.UsageError, match=f"^{name}: "):
        call(run)
    assert (runs["toy-density"] / "metrics.jsonl").read_text() == before


def test_rank_zero_alone_is_one_process_as_before(toy_plugins, tmp_path):
    """Only a partial torchrun set that places this process elsewhere is refused."""
    result = run_cli("train", "toy", "-q", *CPU, "--out", tmp_path / "run",
                     env={"RANK": "0", "LOCAL_RANK": "0"})
    assert result.exit_code == 0, result.output


def test_an_eta_beyond_any_clock_is_said_not_raised():
    from gen.progress import _clock

    assert _clock(1e20) == "more than 999,999,999 days"
    assert _clock(61) == "0:01:01"
