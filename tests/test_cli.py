"""The CLI surface: discovery without torch, JSON output, and clean errors for user mistakes."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from plugin_helpers import fake_distribution

from gen.cli.main import cli

NO_TORCH_CHECK = """
import runpy, sys
sys.argv = ["gen", *{args!r}]
try:
    runpy.run_module("gen", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print("TORCH-IMPORTED" if "torch" in sys.modules else "NO-TORCH", file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["list-datasets"], ["list-datasets", "--json"],
                                  ["plugins"], ["spec", "toy"], ["spec", "toy", "--schema"],
                                  ["spec", "toy", "--set", "data.dataset=image-folder", "--set",
                                   "data.root=/x", "--set", "data.options.crop=pad"],
                                  ["train", "--help"], ["sample", "--help"]])
def test_discovery_commands_do_not_import_torch(args, toy_env):
    out = subprocess.run([sys.executable, "-c", NO_TORCH_CHECK.format(args=args)],
                         env=toy_env, capture_output=True, text=True)
    assert "NO-TORCH" in out.stderr, out.stderr


def test_list_models_imports_no_torch_once_it_has_read_the_classes(tmp_path, toy_env):
    """Capabilities are read from the model classes (torch) once, then from $GEN_CACHE until
    a file of the plugin changes, as it does in an editable install. Every installed plugin
    and a fake installed distribution, ``fake-gen-plugin``."""
    models = fake_distribution(tmp_path / "site")
    env = {k: v for k, v in toy_env.items() if k != "GEN_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
    env["GEN_CACHE"] = str(tmp_path / "cache")

    def list_models():
        out = subprocess.run([sys.executable, "-c", NO_TORCH_CHECK.format(
            args=["list-models", "--json"])], env=env, capture_output=True, text=True)
        rows = {r["name"]: r for r in json.loads(out.stdout)}
        return rows, out.stderr.split()[-1]

    first, imported = list_models()
    assert imported == "TORCH-IMPORTED" and first["fake-density"]["capabilities"] == [
        "sample", "nll"]
    again, imported = list_models()
    assert imported == "NO-TORCH" and again == first
    models.write_text(models.read_text() + "\n    def encode(self, x, y=None):\n"
                      "        return x.flatten(1)\n")
    edited, imported = list_models()
    assert imported == "TORCH-IMPORTED", "an edited plugin is read again"
    assert edited["fake-density"]["capabilities"] == ["sample", "nll", "encode"]
    assert {k: v for k, v in edited.items() if k != "fake-density"} == {
        k: v for k, v in first.items() if k != "fake-density"}


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_models_json(toy_plugins):
    result = invoke("list-models", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == ["toy", "toy-density", "toy-vae"]
    assert rows[0] == {"name": "toy", "plugin": "toy-plugin", "version": "0",
                       "kind": "adversarial", "conditional": False,
                       "summary": "A tiny test model",
                       "capabilities": ["sample", "truncation", "latent-interpolation"],
                       "samplers": None, "error": None}
    assert [r["kind"] for r in rows[1:]] == ["autoregressive", "latent-variable"]
    assert [r["capabilities"] for r in rows[1:]] == [
        ["sample", "nll"], ["sample", "nll", "iw-nll", "encode", "reconstruct"]]


def test_list_models_and_plugins_tables(toy_plugins):
    assert "toy" in invoke("list-models").output
    assert "toy-plugin" in invoke("plugins").output
    records = {r["name"]: r for r in json.loads(invoke("plugins", "--json").output)}
    record = records["toy-plugin"]
    assert record["status"] == "ok" and record["models"] == ["toy", "toy-density", "toy-vae"]
    assert "bundled-mnist" in records["gen-core"]["datasets"]


def test_broken_plugin_is_shown_and_the_cli_keeps_working(toy_plugins):
    toy_plugins.add_module("no_such_plugin_module_xyz")
    result = invoke("list-models")
    assert result.exit_code == 0 and "toy" in result.output
    assert "plugin no_such_plugin_module_xyz is broken" in result.output
    records = {r["name"]: r for r in json.loads(invoke("plugins", "--json").output)}
    record = records["no_such_plugin_module_xyz"]
    assert record["status"] == "broken" and "ModuleNotFoundError" in record["error"]


def test_spec_prints_a_valid_spec_file(toy_plugins, tmp_path):
    result = invoke("spec", "toy")
    spec = json.loads(result.output)
    assert spec["model"]["name"] == "toy" and spec["train"]["steps"] == 10000
    schema = json.loads(invoke("spec", "toy", "--schema").output)
    assert "model" in schema["properties"]


def test_unknown_model_lists_installed_and_closest(toy_plugins):
    result = invoke("train", "tyo")
    assert result.exit_code == 2
    assert ("unknown model 'tyo'. Did you mean 'toy'? Installed models: toy, toy-density, "
            "toy-vae." in result.output)
    assert "Traceback" not in result.output


def test_invalid_spec_file_and_override_exit_2_with_one_line_each(toy_plugins, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model": {"latent_dim": -3}, "train": {"stepz": 1}}))
    result = invoke("train", "toy", "--spec", str(spec), "--set", "train.batch_size=0")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == f"error: invalid spec ({spec}):"
    assert "  model.latent_dim: Input should be greater than 0 (got -3)" in lines
    assert "  train.stepz: Extra inputs are not permitted (got 1)" in lines
    assert "  train.batch_size: Input should be greater than 0 (got 0)" in lines
    assert not (tmp_path / "runs").exists()


def test_bad_override_syntax_exits_2(toy_plugins):
    result = invoke("train", "toy", "--set", "train.steps")
    assert result.exit_code == 2 and "expected KEY=VALUE" in result.output


def test_missing_data_says_where_it_looked_and_what_to_do(toy_plugins, tmp_path):
    result = invoke("train", "toy", "--out", str(tmp_path / "run"),
                    "--set", "data.dataset=mnist", "--set", f"data.root={tmp_path / 'data'}")
    assert result.exit_code == 1
    assert f"not found under {tmp_path / 'data' / 'MNIST' / 'raw'}" in result.output
    assert "data.download=true" in result.output


def test_train_then_sample_png_and_npz(toy_plugins, tmp_path):
    import numpy as np

    run = tmp_path / "run"
    result = invoke("train", "toy", "--out", str(run), "--quiet", "--set", "train.steps=3",
                    "--set", "train.device=cpu", "--set", "train.checkpoint_every=2")
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "spec.json").read_text())
    assert saved["train"]["out"] == str(run) and saved["train"]["steps"] == 3
    result = invoke("sample", str(run), "-n", "6", "--out", str(tmp_path / "s.npz"))
    assert result.exit_code == 0, result.output
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (6, 1, 8, 8) and arrays["images"].dtype == np.uint8
    assert "labels" not in arrays
    result = invoke("sample", str(run), "-n", "4", "--checkpoint", "2")
    assert result.exit_code == 0 and "from step 2" in result.output
    assert (run / "samples" / "sample-step-000002-seed-0.png").is_file()


def test_sample_errors(toy_plugins, tmp_path):
    result = invoke("sample", str(tmp_path / "nope"))
    assert result.exit_code == 1 and "does not exist" in result.output
    result = invoke("sample", str(tmp_path), "--out", "x.jpg")
    assert result.exit_code == 2 and "--out must end in .png" in result.output
    (tmp_path / "spec.json").write_text(json.dumps({"model": {"name": "toy"}}))
    result = invoke("sample", str(tmp_path))
    assert result.exit_code == 1 and "is not a gen run directory (no gen run.json" in result.output
    (tmp_path / "run.json").write_text(json.dumps({"gen_run": 1, "model": "toy"}))
    result = invoke("sample", str(tmp_path))
    assert result.exit_code == 1 and "no checkpoint 'latest'" in result.output


def test_existing_run_is_never_overwritten(toy_plugins, tmp_path):
    args = ["train", "toy", "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=1",
            "--set", "train.device=cpu"]
    assert invoke(*args).exit_code == 0
    result = invoke(*args)
    assert result.exit_code == 1 and "already holds a run: pass --resume" in result.output


def test_resume_may_only_change_length_and_cadence(toy_plugins, tmp_path):
    run = str(tmp_path / "run")
    assert invoke("train", "toy", "--out", run, "-q", "--set", "train.steps=2",
                  "--set", "train.device=cpu").exit_code == 0
    result = invoke("train", "toy", "--out", run, "--resume", "--set", "model.lr=0.5")
    assert result.exit_code == 2 and "model.lr: cannot change on --resume" in result.output
    result = invoke("train", "toy", "--out", run, "--resume", "-q", "--set", "train.steps=4")
    assert result.exit_code == 0 and "step-000004.pt" in result.output
    assert invoke("train", "toy", "--resume").exit_code == 2


def test_unwritable_output_is_detected_before_training(toy_plugins, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = invoke("train", "toy", "--out", str(blocker / "run"), "--set", "train.device=cpu")
    assert result.exit_code == 1 and "cannot write to run directory" in result.output


def test_a_run_that_died_before_its_first_checkpoint_can_be_started_again(toy_plugins, tmp_path):
    run = tmp_path / "run"
    args = ["train", "toy", "--out", str(run), "-q", "--set", "train.steps=2",
            "--set", "train.device=cpu", "--set", "train.log_every=1"]
    assert invoke(*args).exit_code == 0
    for ckpt in (run / "checkpoints").iterdir():  # as if killed before any checkpoint
        ckpt.unlink()
    (run / "metrics.jsonl").write_text('{"step": 7}\n{"step": 8, "d_lo')
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().split("\n")
             if line]
    assert steps == [1, 2], "the dead run's lines are gone"


def test_data_errors_leave_no_run_directory(toy_plugins, tmp_path):
    result = invoke("train", "toy", "--out", str(tmp_path / "run"),
                    "--set", "data.dataset=cifar10", "--set", f"data.root={tmp_path}")
    assert result.exit_code == 1 and "cifar10 (train split) not found" in result.output
    assert not (tmp_path / "run").exists()


def test_plugins_verbose_shows_the_traceback(toy_plugins):
    toy_plugins.add_module("no_such_plugin_module_xyz")
    result = invoke("plugins", "--verbose")
    assert "Traceback" in result.output and "ModuleNotFoundError" in result.output


def test_labels_need_a_conditional_model(toy_plugins, tmp_path):
    run = tmp_path / "run"
    assert invoke("train", "toy", "--out", str(run), "-q", "--set", "train.steps=1",
                  "--set", "train.device=cpu").exit_code == 0
    result = invoke("sample", str(run), "--labels", "0,1")
    assert result.exit_code == 2 and "--labels needs a conditional model" in result.output
