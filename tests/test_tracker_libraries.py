"""The built-in trackers with their real libraries (the test extra installs them): a tiny run
read back through MLflow's client (a local store, and a real `mlflow server` over HTTP), from
W&B's offline run file, and from TensorBoard's event files."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("wandb")
pytest.importorskip("tensorboard")

from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)
from wandb_records import read_run

STEPS = ["--set", "train.device=cpu", "--set", "train.steps=6", "--set", "train.log_every=2",
         "--set", "train.sample_every=3", "--set", "train.checkpoint_every=3",
         "--set", "train.eval_every=3", "--set", "train.eval_n=20"]


def train(env, run, trackers, *extra):
    done = subprocess.run(
        [sys.executable, "-m", "gen", "train", "toy", "--out", str(run), "-q", *STEPS,
         "--set", f"train.trackers={json.dumps(trackers)}", *extra],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "warning: tracker" not in done.stderr, done.stderr
    return done


def evaluate(env, run):
    done = subprocess.run([sys.executable, "-m", "gen", "evaluate", str(run), "--metrics", "fid",
                           "-n", "20", "--space", "mnist-grey-28"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def logged(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def check_mlflow(run: Path, uri: str | None = None):
    state = json.loads((run / "run.json").read_text())["trackers"]["mlflow"]
    client = MlflowClient(uri or state["tracking_uri"])
    tracked = client.get_run(state["run_id"])
    assert tracked.info.status == "FINISHED"
    assert tracked.data.tags["gen.status"] == "finished"
    assert tracked.data.params["model.name"] == "toy"
    assert tracked.data.params["train.steps"] == "6"
    losses = [(r["step"], r["d_loss"]) for r in logged(run) if "d_loss" in r]
    history = client.get_metric_history(state["run_id"], "d_loss")
    assert [m.step for m in history] == [step for step, _ in losses]
    assert [m.value for m in history] == pytest.approx([loss for _, loss in losses])
    assert [m.step for m in client.get_metric_history(state["run_id"], "eval/fid")] == [3, 6]
    grids = [a.path for a in client.list_artifacts(state["run_id"], "samples")]
    assert grids == ["samples/step-000003.png", "samples/step-000006.png"]
    return client, state


def test_mlflow_in_the_runs_own_store(toy_env, tmp_path):
    run = tmp_path / "run"
    train(toy_env, run, ["mlflow"])
    assert (run / "mlruns" / "mlflow.db").is_file()
    client, state = check_mlflow(run)
    # gen evaluate adds its score to the same MLflow run, under how it was measured
    evaluate(toy_env, run)
    keys = client.get_run(state["run_id"]).data.metrics
    assert "evaluate/fid/lenet-n20" in keys
    assert len(client.search_runs([client.get_run(state["run_id"]).info.experiment_id])) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "mlflow server exited"
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer in 120 s")
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_mlflow_over_http_to_a_real_server(toy_env, tmp_path, mlflow_server):
    run = tmp_path / "run"
    train(toy_env, run, [{"name": "mlflow", "tracking_uri": mlflow_server,
                          "experiment": "http-test"}])
    assert not (run / "mlruns").exists(), "nothing stored locally"
    check_mlflow(run, mlflow_server)


def test_an_mlflow_server_that_does_not_answer_stops_the_run_before_it_starts(toy_env,
                                                                               tmp_path):
    run = tmp_path / "run"
    uri = f"http://127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "gen", "train", "toy", "--out", str(run), "-q", *STEPS, "--set",
         f"train.trackers=[{json.dumps({'name': 'mlflow', 'tracking_uri': uri})}]"],
        env=toy_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: tracker 'mlflow': no MLflow server answers at {uri}")
    assert len(done.stderr.strip().splitlines()) == 1, "refused before the data is read"
    assert not run.exists()


def test_wandb_offline_read_back_from_its_run_file(toy_env, tmp_path):
    env = {**toy_env, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    run = tmp_path / "run"
    train(env, run, [{"name": "wandb", "project": "gen-tests"}])
    state = json.loads((run / "run.json").read_text())["trackers"]["wandb"]
    (folder,) = (run / "wandb").glob(f"offline-run-*-{state['id']}")
    got = read_run(folder)
    assert got["config"]["model.name"] == "toy" and got["config"]["train.steps"] == 6
    losses = [(r["step"], r["d_loss"]) for r in logged(run) if "d_loss" in r]
    rows = [(h["_step"], h["d_loss"]) for h in got["history"] if "d_loss" in h]
    assert [step for step, _ in rows] == [step for step, _ in losses]
    assert [loss for _, loss in rows] == pytest.approx([loss for _, loss in losses])
    assert [h["_step"] for h in got["history"] if "samples" in h] == [3, 6]
    assert [h["_step"] for h in got["history"] if "eval/fid" in h] == [3, 6]
    assert got["summary"]["gen_status"] == "finished" and got["exit_code"] == 0


def test_tensorboard_gets_coverage_health_hparams_and_gen_evaluate(toy_env, tmp_path):
    run = tmp_path / "run"
    train(toy_env, run, ["tensorboard"])
    evaluate(toy_env, run)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert {"eval/fid", "coverage/classes_covered", "d_loss"} <= set(tags["scalars"])
    assert "evaluate/fid/lenet-n20" in tags["scalars"]
    assert {"spec/text_summary", "evaluate/text_summary"} <= set(tags["tensors"])
    plugins = events.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in plugins and "_hparams_/session_start_info" in plugins


def test_tensorboard_writes_health_warnings_and_stops_as_text(tmp_path):
    from gen.tracking.base import TrackedRun
    from gen.tracking.tensorboard import TensorBoardTracker

    tracker = TensorBoardTracker()
    tracker.start(TrackedRun(tmp_path, "run", "toy", {}, {}, None, "train"))
    tracker.log(5, {"step": 5, "warning": {"rule": "mode-collapse", "message": "few modes"}})
    tracker.log(7, {"step": 7, "stopped": {"reason": "max_time", "max_time_s": 60}})
    tracker.finish("stopped")
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    health = events.Tensors("health/text_summary")
    assert [e.step for e in health] == [5]
    assert health[0].tensor_proto.string_val[0].decode() == "mode-collapse: few modes"
    text = [e.tensor_proto.string_val[0].decode() for e in events.Tensors("run/text_summary")]
    assert text == ["stopped at step 7: max_time (60 s budget)", "stopped"]
