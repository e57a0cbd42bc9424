"""Shared fixtures: the toy plugin, in-process and for `gen` subprocesses."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gen.plugins

TESTS = Path(__file__).parent


@pytest.fixture
def toy_plugins(monkeypatch):
    """A plugin set with only the toy models and the core's own plugin (its data sets and
    extractors), installed as the CLI's default."""
    import toy_plugin

    plugins = gen.plugins.Plugins()
    plugins.add_core()
    plugins.add(toy_plugin, "toy-plugin", "0")
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    return plugins


@pytest.fixture
def toy_env():
    """Environment for a `gen` subprocess that should see the toy plugin."""
    env = dict(os.environ)
    env["GEN_PLUGINS"] = "toy_plugin"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def gen_cli(toy_env):
    """Run `gen ARGS...` in a subprocess that sees the toy plugin."""

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gen", *args], env=toy_env,
                              capture_output=True, text=True, **kwargs)

    return run


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.exists():
        return {}
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture
def gen_cache(tmp_path, monkeypatch):
    """$GEN_CACHE in tmp_path; the user's own cache is left exactly as it was."""
    home = Path("~/.cache/gen").expanduser()
    before = _files(home)
    folder = tmp_path / "gen-cache"
    monkeypatch.setenv("GEN_CACHE", str(folder))
    yield folder
    assert _files(home) == before, "nothing is written to ~/.cache/gen"
