"""The Python API (docs/python.md): `gen.train`, `gen.load_run` and `Run`, the same functions the
commands are made of, and the docs' example run as written."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import gen
from gen.cli.main import cli
from gen.plugins import discover

DOCS = Path(__file__).parents[1] / "docs"
CPU = {"train.device": "cpu", "train.log_every": 1}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_train_returns_the_run_and_load_run_reads_it_back(toy_plugins, tmp_path):
    run = gen.train("toy", overrides={**CPU, "train.steps": 4, "train.checkpoint_every": 2},
                    out=tmp_path / "run", progress=False)
    assert isinstance(run, gen.Run) and run.path == tmp_path / "run"
    assert (run.name, run.step, run.spec.train.steps) == ("toy", 4, 4)
    assert sorted(run.checkpoints) == [2, 4] and sorted(run.sample_grids) == [4]
    assert run.info["model"] == "toy" and run.info["plugin"] == "toy-plugin"

    again = gen.load_run(tmp_path / "run", device="cpu")
    assert again.spec == run.spec and again.step == 4
    assert [m["step"] for m in again.metrics()] == [1, 2, 3, 4]
    assert gen.load_run(tmp_path / "run", checkpoint=2).step == 2


def test_sample_is_uint8_seeded_and_the_same_as_gen_sample(toy_plugins, tmp_path):
    run = gen.train("toy", overrides={**CPU, "train.steps": 2}, out=tmp_path / "run",
                    progress=False)
    images = run.sample(6, seed=3)
    assert images.dtype == torch.uint8 and images.shape == (6, 1, 8, 8)
    assert images.device.type == "cpu"
    assert torch.equal(images, run.sample(6, seed=3))
    assert not torch.equal(images, run.sample(6, seed=4))
    result = invoke("sample", run.path, "-n", 6, "--seed", 3, "--out", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.load(tmp_path / "s.npz")["images"], images.numpy())
    with pytest.raises(gen.GenError, match="labels need a conditional model"):
        run.sample(2, labels=[1])


def test_evaluate_returns_what_gen_evaluate_prints_and_records_it(toy_plugins, tmp_path):
    run = gen.train("toy-density", overrides={**CPU, "train.steps": 3}, out=tmp_path / "run",
                    progress=False)
    scores = run.evaluate("nll", limit=50, record=False)
    assert list(scores) == ["nll"] and scores["nll"]["images"] == 50
    assert all("evaluation" not in m for m in run.metrics()), "record=False writes nothing"
    printed = json.loads(invoke("evaluate", run.path, "--metrics", "nll", "--limit", 50, "--json",
                                "--device", "cpu").output)
    assert printed == [scores["nll"] | {"checkpoint": printed[0]["checkpoint"]}]
    run.evaluate(["nll"], limit=50)
    assert run.metrics()[-1] == {"step": 3, "evaluation": scores["nll"]}


def test_spec_as_a_dict_a_file_or_a_run_spec_and_overrides_as_strings(toy_plugins, tmp_path):
    spec = {"model": {"hidden": 8}, "train": {"steps": 2, "device": "cpu"}}
    from_dict = gen.train("toy", spec=spec, out=tmp_path / "a", progress=False)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    from_file = gen.train("toy", spec=tmp_path / "spec.json", overrides=["train.steps=3"],
                          out=tmp_path / "b", progress=False)
    from_spec = gen.train("toy", spec=from_dict.spec, out=tmp_path / "c", progress=False)
    assert from_dict.spec.model.hidden == from_file.spec.model.hidden == 8
    assert (from_file.step, from_spec.step) == (3, 2)
    assert from_spec.spec.train.out == str(tmp_path / "c"), "spec.json names its own folder"


def test_resume_continues_and_equals_an_uninterrupted_run(toy_plugins, tmp_path):
    gen.train("toy", overrides={**CPU, "train.steps": 2}, out=tmp_path / "a", progress=False)
    resumed = gen.train("toy", overrides={"train.steps": 5}, out=tmp_path / "a", resume=True,
                        progress=False)
    straight = gen.train("toy", overrides={**CPU, "train.steps": 5}, out=tmp_path / "b",
                         progress=False)
    assert resumed.step == 5
    for name, module in straight.model.modules.items():
        for key, tensor in module.state_dict().items():
            assert torch.equal(resumed.model.modules[name].state_dict()[key], tensor), key


def test_api_mistakes_are_gen_errors(toy_plugins, tmp_path):
    with pytest.raises(gen.UsageError, match="--spec cannot be combined with --resume"):
        gen.train("toy", spec={}, out=tmp_path, resume=True)
    with pytest.raises(gen.UsageError, match="--resume needs --out"):
        gen.train("toy", resume=True)
    with pytest.raises(gen.SpecError) as err:
        gen.train("toy", overrides={"train.steps": -1}, out=tmp_path / "r")
    assert err.value.problems[0][0] == "train.steps"
    with pytest.raises(gen.CheckpointError, match="is not a gen run directory"):
        gen.load_run(tmp_path)
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(gen.FolderError, match="not empty and not a gen run"):
        gen.train("toy", out=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_the_python_docs_example_runs_as_written(tmp_path, monkeypatch):
    """docs/python.md's example, executed in an empty folder with real installed plugins."""
    if "gan" not in discover().registry.models:
        pytest.skip("the example trains `gan`: install plugins/gen-gan")
    code = re.search(r"```python\n(.*?)```", (DOCS / "python.md").read_text(), re.S).group(1)
    monkeypatch.delenv("GEN_PLUGINS", raising=False)
    monkeypatch.setenv("GEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gen.plugins, "_default", None)
    exec(compile(code, "docs/python.md", "exec"), {})
    run = gen.load_run(tmp_path / "runs" / "gan-python")
    assert run.step == 50 and [m["evaluation"]["metric"] for m in run.metrics()[-2:]] == [
        "fid", "kid"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "runs"], "nothing else written"
