"""gen sweep with real trials: tiny `gen train` processes of the toy density model (exact nll,
so scores are cheap and a learning rate of 1e-6 certainly scores worse than 0.3). Two jobs at
once and a pruner that prunes, a sweep killed and continued, two processes on one study, and
the report that ranks the trials."""

import html
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from cli_runs import invoke

import gen.sweep
from gen.run.layout import RunDir
from gen.run.metrics_log import read_metrics
from gen.sweep import render_sweep_report

optuna = pytest.importorskip("optuna")

TINY = ["train.device=cpu", "train.batch_size=16", "data.workers=0", "train.log_every=10",
        "train.sample_every=100000"]
LR = {"model.lr": {"log_uniform": [1e-3, 0.5]}}


@pytest.fixture
def toy_subprocesses(toy_plugins, toy_env, gen_cache, monkeypatch):
    """The toy models here and in the trials' `gen train` processes."""
    for key in ("GEN_PLUGINS", "PYTHONPATH"):
        monkeypatch.setenv(key, toy_env[key])


def study_of(folder, storage=None):
    definition = json.loads((folder / "sweep.json").read_text())
    url = storage or f"sqlite:///{folder.resolve()}/study.db"
    return optuna.load_study(study_name=definition["study"], storage=url)


def counted(study):
    return [t for t in study.get_trials() if not t.user_attrs.get("surplus")]


def nll_records(run):
    return [r for r in read_metrics(run / "metrics.jsonl")
            if r.get("evaluation", {}).get("metric") == "nll"]


def test_two_jobs_and_a_pruner_that_prunes(toy_subprocesses, tmp_path):
    """lr 1e-6 reports the nll of its start (44.4 nats) at step 20, above the threshold, and
    is stopped there; lr 0.3 runs to its time budget and is scored at the step it stopped at
    (by `gen evaluate`, unless training evaluated at that very step)."""
    out = tmp_path / "sweep"
    result = gen.sweep("toy-density", {"model.lr": {"choice": [0.3, 1e-6]}}, 2, jobs=2,
                       out=out, metric="nll",
                       overrides=[*TINY, "train.steps=100000", "train.max_time=5",
                                  "train.eval_every=20", "train.eval_n=50"],
                       pruner=optuna.pruners.ThresholdPruner(upper=40.0),
                       sampler=optuna.samplers.GridSampler({"model.lr": [0.3, 1e-6]}),
                       progress=False)
    by_lr = {t.params["model.lr"]: t for t in result.study.get_trials()}
    good, bad = by_lr[0.3], by_lr[1e-6]
    assert good.state.name == "COMPLETE" and bad.state.name == "PRUNED"
    assert bad.intermediate_values == {20: pytest.approx(44.36, abs=0.1)}
    pruned = RunDir(out / bad.user_attrs["run"])  # stopped by the sweep, not by its budget:
    assert not any("stopped" in r for r in read_metrics(pruned.metrics_path))
    assert "stopped at step" in (out / "logs" / f"{pruned.root.name}.log").read_text()
    assert pruned.has_checkpoints() and max(pruned.step_checkpoints()) >= 20
    assert json.loads(pruned.spec_path.read_text())["model"]["lr"] == 1e-6  # an ordinary run

    run = out / good.user_attrs["run"]
    records = read_metrics(run / "metrics.jsonl")
    stopped = next(r for r in records if "stopped" in r)["step"]
    last = nll_records(run)[-1]
    assert good.value == last["evaluation"]["value"] < 40 and last["step"] == stopped
    evaluated = [r["step"] for r in records if "eval_nll" in r]  # by training
    source = "training" if stopped in evaluated else "gen evaluate -n 50"  # 19 times in 20
    assert good.user_attrs["score"] == {"metric": "nll", "step": stopped, "source": source}
    assert sorted(good.intermediate_values) == evaluated
    assert result.best.number == good.number and result.best.run == run

    page = render_sweep_report(out)
    ranked = page[page.index("trials, best first"):]
    assert ranked.index(f"<td class=\"num\">{good.number}</td>") < ranked.index(
        f"<td class=\"num\">{bad.number}</td>")
    assert "<tr class=\"pruned\">" in ranked and page.count("<svg") == 2
    assert "no parameter importances: 1 complete trial(s)" in page
    assert not re.search(r"(src|href)=[\"']https?:", page)  # nothing from the network

    # gen report writes the sweep's page; a sweep is reported alone
    written = invoke("report", out, "--out", tmp_path / "sweep.html")
    assert written.exit_code == 0, written.output
    assert "trials, best first" in (tmp_path / "sweep.html").read_text()
    again = invoke("report", out, "--out", tmp_path / "sweep.html")  # its own page: rewritten
    assert again.exit_code == 0, again.output
    mixed = invoke("report", out, run, "--out", tmp_path / "mixed.html")
    assert mixed.exit_code == 2 and "is a sweep folder: report it alone" in mixed.output
    assert not (tmp_path / "mixed.html").exists()


def test_a_trial_that_fails_is_recorded_and_the_sweep_goes_on(toy_subprocesses, tmp_path):
    out, nodata = tmp_path / "sweep", tmp_path / "nodata"
    nodata.mkdir()
    datasets = ["mnist", "bundled-mnist"]  # mnist is not under data.root: that trial fails
    result = gen.sweep("toy-density", {"data.dataset": {"choice": datasets}}, 2, out=out,
                       metric="nll", overrides=[*TINY, "train.steps=20", "train.eval_every=20",
                                                f"data.root={nodata}"],
                       sampler=optuna.samplers.GridSampler({"data.dataset": datasets}),
                       progress=False)
    by = {t.params["data.dataset"]: t for t in result.study.get_trials()}
    assert by["bundled-mnist"].state.name == "COMPLETE" and by["mnist"].state.name == "FAIL"
    error = by["mnist"].user_attrs["error"]
    assert error.startswith("gen train exited with 1: mnist (train split) not found under")
    assert result.counts() == {"complete": 1, "failed": 1}
    assert not (out / by["mnist"].user_attrs["run"]).exists()  # refused before its folder
    assert f"failed: {html.escape(error)}" in render_sweep_report(out)


def sweep_command(out, *more):
    return [sys.executable, "-m", "gen", "sweep", "toy-density", "--space", json.dumps(LR),
            "--metric", "nll", "--out", str(out), *more,
            *(a for s in TINY for a in ("--set", s))]


def test_a_killed_sweep_continues_and_runs_no_trial_twice(toy_subprocesses, tmp_path):
    out = tmp_path / "sweep"
    command = sweep_command(out, "--trials", "3", "--jobs", "2", "--pruner", "none",
                            "--set", "train.steps=2000", "--set", "train.eval_every=1000",
                            "--set", "train.checkpoint_every=20",
                            "--set", "train.keep_checkpoints=2")
    first = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    latest = [out / f"trial-000{n}" / "checkpoints" / "latest.pt" for n in (0, 1)]
    deadline = time.monotonic() + 120
    while not all(p.exists() for p in latest) and first.poll() is None:
        assert time.monotonic() < deadline, "the trials never wrote a checkpoint"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the sweep and its trials, at once
    first.wait()
    assert first.returncode == -signal.SIGKILL, first.stderr.read()
    killed_at = {n: max(RunDir(out / f"trial-000{n}").step_checkpoints()) for n in (0, 1)}
    assert all(0 < step < 2000 for step in killed_at.values())
    assert [t.state.name for t in counted(study_of(out))] == ["RUNNING", "RUNNING"]

    # Again, with a third job: the two trials killed resume while the third starts.
    again = subprocess.run([*command, "--jobs", "3"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    trials = counted(study_of(out))
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    for t in trials:
        log = (out / "logs" / f"{t.user_attrs['run']}.log").read_text()
        assert log.count("from scratch") == 1, log
        assert log.count("resuming at step") == (1 if t.number in killed_at else 0), log
        steps = [r["step"] for r in read_metrics(out / t.user_attrs["run"] / "metrics.jsonl")
                 if "nll" in r]  # one line per logged step, each step logged once
        assert steps == list(range(10, 2001, 10))
        assert t.value == nll_records(out / t.user_attrs["run"])[-1]["evaluation"]["value"]
    assert f"resumed -> {out}/trial-0000" in again.stderr


def test_two_processes_on_one_storage_make_one_study(toy_subprocesses, tmp_path):
    storage = f"sqlite:///{tmp_path}/shared.db"
    folders = [tmp_path / "here", tmp_path / "there"]
    runs = [subprocess.Popen(sweep_command(f, "--trials", "3", "--storage", storage,
                                           "--study", "shared", "--set", "train.steps=30"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for f in folders]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=storage)
    trials = counted(study)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    ids = [json.loads((f / "sweep.json").read_text())["id"] for f in folders]
    ran = [[t for t in trials if t.user_attrs["sweep_id"] == i] for i in ids]
    assert all(ran) and sum(map(len, ran)) == 3  # each process ran some, together three
    for folder, mine in zip(folders, ran, strict=True):
        assert sorted(p.name for p in folder.glob("trial-*")) == sorted(
            t.user_attrs["run"] for t in mine)
    for t in trials:  # no train.eval_every: the score is `gen evaluate`'s at the last step
        assert t.user_attrs["score"] == {"metric": "nll", "step": 30,
                                         "source": "gen evaluate -n 2000"}
    page = render_sweep_report(folders[0], storage=storage)
    assert page.count("<tr class=\"complete\">") == 3 and page.count("<svg") == 2


@pytest.mark.parametrize("code", [-signal.SIGTERM, 130])
def test_a_trial_stopped_while_it_is_scored_is_not_failed(tmp_path, monkeypatch, code):
    """Ctrl-C while a trial's final `gen evaluate` ran marked the trial failed for good (found
    by tests/test_boundary_sweep.py); it stays running, to be scored when the sweep continues."""
    import threading
    from types import SimpleNamespace

    from gen.sweep import trials

    run = RunDir(tmp_path / "trial-0000")
    run.root.mkdir()
    (run.root / "run.json").write_text(json.dumps({"model": "toy", "gen_version": "0"}))
    (run.root / "spec.json").write_text(json.dumps(
        {"train": {"eval_n": 10, "eval_extractor": "lenet", "device": "cpu"}}))
    stop = threading.Event()
    said: list[str] = []
    sweep = SimpleNamespace(stop=stop, metric="fid", say=said.append,
                            folder=SimpleNamespace(log=lambda n: tmp_path / "log"))

    def interrupted(sweep, command, log, watch=None):
        stop.set()
        return code

    monkeypatch.setattr(trials, "_run", interrupted)
    monkeypatch.setattr(trials, "_fail", lambda *a: pytest.fail(f"failed: {a[2]}"))
    trials._score(sweep, SimpleNamespace(number=0), run)
    assert said == ["trial 0: stopped while scored; it is scored when the sweep runs again"]
