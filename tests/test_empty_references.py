"""An empty path where gen evaluate and gen stats take reference images is an error: read as a
path it would be the current folder, which no one chose."""

import pytest
from cli_runs import CPU, invoke, tree

import gen
from gen.errors import UsageError


@pytest.fixture
def run(toy_plugins, tmp_path, monkeypatch):
    """A trained toy-density run, evaluated from a folder of images (which '' would read)."""
    out = tmp_path / "run"
    assert invoke("train", "toy-density", "--out", out, "-q", *CPU).exit_code == 0
    monkeypatch.chdir(out / "samples")
    return out


@pytest.mark.parametrize("args, message", [
    (["--metrics", "nll", "--reference", ""],
     "error: --reference is empty: name 'test', 'train' or a folder of images (. for the "
     "current folder)"),
    (["--metrics", "nll", "--reference", " "], "error: --reference is empty"),
    (["--metrics", "fid", "-n", "20", "--reference-stats", ""],
     "error: --reference-stats is empty: name a file that `gen stats` wrote"),
])
def test_gen_evaluate_refuses_an_empty_reference_and_writes_nothing(run, args, message):
    before = tree(run)
    result = invoke("evaluate", run, *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert tree(run) == before


def test_run_evaluate_refuses_an_empty_reference(run):
    with pytest.raises(UsageError, match="--reference is empty"):
        gen.load_run(run, device="cpu").evaluate("nll", reference="", record=False)


def test_gen_stats_refuses_empty_data(run, tmp_path):
    result = invoke("stats", "", "--out", tmp_path / "s.npz")
    assert result.exit_code == 2 and (
        "error: DATA is empty: name a data set, a folder of images (. for the current folder) "
        "or an .npz file") in result.output
    assert not (tmp_path / "s.npz").exists()
