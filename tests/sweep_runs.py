"""What both sweeps start from: the toy plugin set, and one tiny run of each toy family with a
warm cache (the lenet extractor), made once per module and copied for each example."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import gen.plugins
from gen.cli.main import cli

CPU = ["--set", "train.device=cpu"]


def toy_plugin_set() -> gen.plugins.Plugins:
    import toy_plugin

    found = gen.plugins.Plugins()
    found.add_core()
    found.add(toy_plugin, "toy-plugin", "0")
    return found


def pristine_runs(root: Path, plugins: gen.plugins.Plugins, *train: str) -> Path:
    """Under ``root``: runs toy, toy-density and toy-vae trained with ``train`` options, and
    the cache an evaluation of toy's fid leaves."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gen.plugins, "_default", plugins)
        mp.setenv("GEN_CACHE", str(root / "cache"))
        for name in ("toy", "toy-density", "toy-vae"):
            result = invoke("train", name, "--out", root / name, "-q", *CPU, *train)
            assert result.exit_code == 0, result.output
        result = invoke("evaluate", root / "toy", "--metrics", "fid", "-n", "10", "--device",
                        "cpu")
        assert result.exit_code == 0, result.output
    return root


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=True)
