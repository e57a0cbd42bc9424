"""gen sweep's bad input, refused before any trial starts: the space against the model's spec,
the folder, the storage, Optuna missing. No trial runs here (tests/test_sweep.py runs them)."""

import json
import subprocess
import sys
from typing import Literal

import pytest
from cli_runs import invoke, tree
from pydantic import Field

import gen
from gen.sweep import render_sweep_report
from gen.sweep.api import prepare
from gen.sweep.space import SpaceError, check_space, parse_space, resolve

pytest.importorskip("optuna")

LR = {"model.lr": {"log_uniform": [1e-4, 0.5]}}


def sweep_cli(*args):
    return invoke("sweep", "toy", *args)


def lines(result) -> list[str]:
    return [line.strip() for line in result.output.splitlines() if line.strip()]


@pytest.mark.parametrize(("space", "expected"), [
    ({"model.hiden": {"int": [4, 8]}},
     "model.hiden: no such field in a spec of model 'toy' (`gen spec toy` shows them). "
     "Did you mean 'model.hidden'?"),
    ({"model.n_critic": {"int": [1, 5]}},  # a field of another model: no close name here
     "model.n_critic: no such field in a spec of model 'toy' (`gen spec toy` shows them)."),
    ({"model.lr": {"uniform": [-0.1, 0.1]}},
     "model.lr: uniform [-0.1, 0.1] reaches -0.1, which the spec refuses: model.lr: Input "
     "should be greater than 0 (got -0.1)"),
    ({"train.batch_size": {"int": [0, 64]}},
     "train.batch_size: int [0, 64] reaches 0, which the spec refuses: train.batch_size: "
     "Input should be greater than 0 (got 0)"),
    ({"data.channels": {"choice": [1, 2]}},
     "data.channels: choice [1, 2] reaches 2, which the spec refuses: data.channels: Input "
     "should be 1 or 3 (got 2)"),
    ({"model.lr": {"normal": [0, 1]}}, "model.lr: expected one of {\"uniform\": [a, b]}"),
    ({"model.lr": {"uniform": [0.1]}}, "model.lr: uniform takes [low, high], two finite"),
    ({"model.lr": {"log_uniform": [0, 1]}}, "model.lr: a log scale needs a low end above 0"),
    ({"model.hidden": {"int": [8, 4]}}, "model.hidden: int [8, 4]: low must be below high"),
    ({"model.hidden": {"int": [4.5, 8]}}, "model.hidden: int takes [low, high], two integers"),
    ({"model.lr": {"uniform": [0.1, 0.2], "log": True}}, "model.lr: expected one of"),
    ({"model.lr": {"choice": [[0.1], [0.2]]}}, "model.lr: choices must be strings, numbers"),
    ({"model.lr[0]": {"uniform": [0.1, 0.2]}}, "model.lr[0]: model.lr is not a list"),
    ({"model.name": {"choice": ["toy"]}}, "model.name: the model is the sweep's NAME"),
    ({}, "the space is empty"),
])
def test_a_space_mistake_is_one_line_naming_the_key_and_exits_2(toy_plugins, tmp_path, space,
                                                                 expected):
    out = tmp_path / "sweep"
    result = sweep_cli("--space", json.dumps(space), "--out", out)
    assert result.exit_code == 2, result.output
    assert lines(result)[0] == "error: invalid sweep space:"
    assert lines(result)[1].startswith(expected), result.output
    assert len(lines(result)) == 2 and not out.exists()


def test_every_key_with_a_problem_is_named_once_and_the_file_too(toy_plugins, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"model.hiden": {"int": [4, 8]}, **LR,
                                 "model.latent_dim": {"int": [0, 4]}}))
    result = sweep_cli("--space", space, "--out", tmp_path / "sweep")
    assert result.exit_code == 2
    assert lines(result)[0] == f"error: invalid sweep space ({space}):"
    assert [line.split(":")[0] for line in lines(result)[1:]] == ["model.hiden",
                                                                 "model.latent_dim"]
    space.write_text("{\"model.lr\": ")
    result = sweep_cli("--space", space, "--out", tmp_path / "sweep")
    assert result.exit_code == 2 and "malformed JSON at line 1" in result.output
    assert not (tmp_path / "sweep").exists()


class ListSpec(gen.ModelSpec):
    name: Literal["lists"] = "lists"
    optimizer: gen.OptimizerSpec = Field(default_factory=gen.OptimizerSpec)
    d_optimizer: gen.OptimizerSpec | None = None


def test_list_items_and_null_sections_are_filled_from_the_fixed_spec():
    fixed = {"model": {"optimizer": {"betas": [0.5, 0.99]}}}
    spec = resolve(ListSpec, fixed, {"model.optimizer.betas[0]": 0.1,
                                     "model.d_optimizer.lr": 0.01})
    assert spec.model.optimizer.betas == (0.1, 0.99)  # the fixed spec's second beta kept
    assert spec.model.d_optimizer.lr == 0.01 and spec.model.d_optimizer.name == "adam"
    assert resolve(ListSpec, {}, {"model.optimizer.betas[1]": 0.5}).model.optimizer.betas == (
        0.9, 0.5)  # from the default
    with pytest.raises(SpaceError) as caught:
        check_space(ListSpec, {}, parse_space({
            "model.optimizer.betas[0]": {"uniform": [0.5, 1.0]},
            "model.optimizer.betas[2]": {"uniform": [0.1, 0.2]},
            "model.d_optimizr.lr": {"uniform": [0.1, 0.2]}}))
    assert caught.value.problems == [
        ("model.optimizer.betas[0]", "uniform [0.5, 1] reaches 1.0, which the spec refuses: "
         "model.optimizer.betas: each beta must be in [0, 1) (got [1.0, 0.999])"),
        ("model.optimizer.betas[2]", "model.optimizer.betas has 2 items, so no [2]"),
        ("model.d_optimizr.lr", "no such field in a spec of model 'lists' (`gen spec lists` "
         "shows them). Did you mean 'model.d_optimizer.lr'?")]


def test_a_folder_that_is_not_a_sweep_is_refused_and_left_alone(toy_plugins, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    before = tree(mine)
    result = sweep_cli("--space", json.dumps(LR), "--out", mine)
    assert result.exit_code == 2
    assert lines(result) == [f"error: --out {mine} is not empty and not a gen sweep (it holds "
                             "notes.txt); gen writes only into a new or empty folder or a gen "
                             "sweep. Choose another --out."]
    assert tree(mine) == before
    with pytest.raises(gen.GenError, match="is not a gen sweep"):
        render_sweep_report(mine)


def test_a_sweep_of_another_model_space_or_metric_is_refused(toy_plugins, tmp_path):
    out = tmp_path / "sweep"
    prepare("toy", LR, 4, jobs=1, storage=None, metric=None, out=out, spec=None,
            overrides=["train.steps=5"], study=None, pruner="median", sampler=None,
            progress=False)  # makes the folder and the study; runs nothing
    before = tree(out)
    other = {"model.lr": {"log_uniform": [1e-3, 0.5]}}
    for args, differ in [(("--space", json.dumps(other)), "space"),
                         (("--space", json.dumps(LR), "--metric", "kid", "--set", "train.steps=5"),
                          "metric, spec"),
                         (("--space", json.dumps(LR), "--set", "train.steps=6"), "spec")]:
        result = sweep_cli(*args, "--out", out)
        assert result.exit_code == 2 and f"is a sweep with another {differ} " in result.output
    result = invoke("sweep", "toy-vae", "--space", json.dumps(LR), "--out", out)
    assert result.exit_code == 2 and "is a sweep with another model " in result.output
    assert tree(out) == before


def test_a_storage_optuna_cannot_open_exits_2_writing_nothing(toy_plugins, tmp_path):
    out = tmp_path / "sweep"
    for url, reason in [("foo://host/db", "Can't load plugin: sqlalchemy.dialects:foo"),
                        ("not a url", "Could not parse SQLAlchemy URL"),
                        (f"sqlite:///{tmp_path}/missing/study.db", "unable to open database")]:
        result = sweep_cli("--space", json.dumps(LR), "--out", out, "--storage", url)
        assert result.exit_code == 2, result.output
        assert len(lines(result)) == 1 and reason in result.output, result.output
    assert not out.exists() and not (tmp_path / "missing").exists()


def test_a_password_is_never_written_to_the_sweep_folder(toy_plugins, tmp_path):
    from gen.sweep.storage import masked

    assert masked("postgresql://me:secret@db.example/sweeps") == (
        "postgresql://me:***@db.example/sweeps")
    assert masked("sqlite:///x.db") == "sqlite:///x.db"


def test_without_optuna_gen_works_and_gen_sweep_says_what_to_install(toy_env):
    hide = ("import sys\nsys.modules['optuna'] = None\n"
            "from gen.cli.main import main\nsys.argv = ['gen'] + sys.argv[1:]\nmain()\n")
    run = [sys.executable, "-c", hide]
    helped = subprocess.run([*run, "--help"], env=toy_env, capture_output=True, text=True)
    assert helped.returncode == 0 and "sweep" in helped.stdout
    result = subprocess.run([*run, "sweep", "toy", "--space", json.dumps(LR)], env=toy_env,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: gen sweep runs on Optuna, which is not installed: "
                                     "pip install 'gen-core[sweep]'")
