"""Trackers (`train.trackers`): what a tracker is given, that a failing or hanging one never
costs the run anything, the spec's checks, and `gen evaluate`'s records reaching them. The
real libraries (MLflow, W&B, TensorBoard) are in tests/test_tracker_libraries.py."""

import json
import subprocess
import sys
import time

import pytest
import tracker_plugin
from checkpoint_helpers import assert_same_latest
from click.testing import CliRunner

import gen.tracking.fanout as fanout
from gen.cli.main import cli

TOY = ["--set", "train.device=cpu", "--set", "train.log_every=2", "--set", "train.sample_every=3",
       "--set", "train.checkpoint_every=3"]


@pytest.fixture
def env(toy_env):
    return {**toy_env, "GEN_PLUGINS": "toy_plugin,tracker_plugin"}


def gen_run(env, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "gen", *map(str, args)], env=env,
                          capture_output=True, text=True, **kwargs)


def trackers(*entries):
    return ["--set", f"train.trackers={json.dumps(list(entries))}"]


def calls(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_tracker_gets_the_spec_every_record_the_grids_and_the_end(env, tmp_path):
    log = tmp_path / "calls.jsonl"
    run = tmp_path / "run"
    done = gen_run(env, "train", "toy", "--out", run, "-q", *TOY, "--set", "train.steps=6",
                   *trackers({"name": "recording", "file": str(log)}))
    assert done.returncode == 0, done.stderr
    got = calls(log)
    assert [c["call"] for c in (got[0], got[-1])] == ["start", "finish"]
    assert got[0]["purpose"] == "train" and got[0]["state"] is None
    assert got[0]["params"]["model.name"] == "toy" and got[0]["params"]["train.steps"] == 6
    written = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [c["record"] for c in got if c["call"] == "log"] == written
    assert [(c["step"], c["shape"]) for c in got if c["call"] == "image"] == [
        (3, [82, 82, 3]), (6, [82, 82, 3])]  # 64 8x8 images in an 8 x 8 grid, padding 2, RGB
    assert got[-1]["status"] == "finished"
    info = json.loads((run / "run.json").read_text())
    assert info["trackers"] == {"recording": {"id": f"rec-{got[0]['pid']}"}}

    # a resume hands the tracker its state back; a budget stop is "stopped"
    log.unlink()
    done = gen_run(env, "train", "toy", "--out", run, "-q", "--resume", "--set",
                   "train.steps=100000", "--set", "train.max_time=1")
    assert done.returncode == 0, done.stderr
    got = calls(log)
    assert got[0]["state"] == info["trackers"]["recording"]
    assert got[-1] == {**got[-1], "call": "finish", "status": "stopped"}
    assert any("stopped" in c.get("record", {}) for c in got)

    # gen evaluate's records reach the same tracker, which is not told the run ended again
    log.unlink()
    done = gen_run(env, "evaluate", run, "--metrics", "fid", "-n", "20", "--space",
                   "mnist-grey-28")
    assert done.returncode == 0, done.stderr
    got = calls(log)
    assert got[0]["purpose"] == "evaluate" and got[-1]["status"] is None
    assert [c["record"]["evaluation"]["metric"] for c in got if c["call"] == "log"] == ["fid"]


def test_a_tracker_raising_everywhere_changes_nothing_of_the_run(env, tmp_path):
    plain, tracked = tmp_path / "plain", tmp_path / "tracked"
    args = ["-q", *TOY, "--set", "train.steps=6", "--set", "train.eval_every=3",
            "--set", "train.eval_n=16", "--set", "train.eval_metric=fid"]
    assert gen_run(env, "train", "toy", "--out", plain, *args, *trackers()).returncode == 0
    done = gen_run(env, "train", "toy", "--out", tracked, *args,
                   *trackers("raising", "raising-later"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "raising-checked").exists(), "check() runs before training"
    warned = sorted(line for line in done.stderr.splitlines() if line.startswith("warning:"))
    assert warned == [
        "warning: tracker 'raising' failed in start: RuntimeError: start broke; the run goes "
        "on without it",
        "warning: tracker 'raising-later' failed in log: RuntimeError: log broke; the run goes "
        "on without it"]
    assert json.loads((tracked / "run.json").read_text())["trackers"] == {
        "raising-later": {"started": True}}
    assert "Traceback" not in done.stderr
    assert_same_latest(plain, tracked, 6)
    assert sorted(p.name for p in (tracked / "samples").iterdir()) == sorted(
        p.name for p in (plain / "samples").iterdir())

    def scores(run):
        lines = (run / "metrics.jsonl").read_text().splitlines()
        return [json.loads(x)["evaluation"]["value"] for x in lines if "evaluation" in x]

    assert scores(tracked) == scores(plain)


def test_a_tracker_that_never_finishes_does_not_hold_the_run(toy_plugins, tmp_path, monkeypatch):
    toy_plugins.add(tracker_plugin, "tracker-plugin", "0")
    monkeypatch.setattr(fanout, "FINISH_TIMEOUT_S", 1.0)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["train", "toy", "--out", str(tmp_path / "run"), "-q", *TOY,
                                      "--set", "train.steps=3", *trackers("hanging")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60
    assert "tracker 'hanging' failed in finish: still busy after 1 s" in result.output


@pytest.mark.parametrize("entry, where, words", [
    ("recordng", "train.trackers[0]", "Did you mean 'recording'?"),
    ("absent", "train.trackers[0]", "pip install no-such-module"),
    ({"name": "recording"}, "train.trackers[0].file", "Field required"),
    ({"name": "raising", "colour": 1}, "train.trackers[0]", "takes no options"),
    ({"project": "x"}, "train.trackers[0]", "a tracker name or an object"),
])
def test_a_bad_tracker_is_a_spec_error_before_anything_is_written(env, tmp_path, entry, where,
                                                                     words):
    done = gen_run(env, "train", "toy", "--out", tmp_path / "run", "-q", *TOY,
                   *trackers(entry))
    assert done.returncode == 2
    assert where in done.stderr and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_tracker_named_twice_is_refused(env, tmp_path):
    done = gen_run(env, "spec", "toy", *trackers("raising", "raising"))
    assert done.returncode == 2 and "named twice" in done.stderr


def test_trackers_are_listed_with_what_installs_them(env):
    done = gen_run(env, "list-trackers", "--json")
    listed = {t["name"]: t for t in json.loads(done.stdout)}
    assert {"tensorboard", "mlflow", "wandb", "recording", "absent"} <= set(listed)
    assert listed["absent"]["installed"] is False
    assert listed["absent"]["install"] == "pip install no-such-module"


def test_discovery_of_trackers_imports_no_tracker_library(env):
    code = ("import sys, gen.plugins as p; p.get_plugins().registry.trackers; "
            "print(sorted(m for m in ('torch', 'mlflow', 'wandb', 'tensorboard') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_only_the_main_process_tracks(env, tmp_path):
    log = tmp_path / "calls.jsonl"
    done = gen_run(env, "train", "toy", "--out", tmp_path / "run", "-q", "--nproc", "2", *TOY,
                   "--set", "train.steps=4", *trackers({"name": "recording", "file": str(log)}),
                   timeout=300)
    assert done.returncode == 0, done.stderr
    got = calls(log)
    assert len({c["pid"] for c in got}) == 1
    assert [c["call"] for c in got].count("start") == 1
