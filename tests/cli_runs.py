"""Tiny toy runs made once through the CLI in-process, handed to each test as fresh copies,
and a snapshot of a folder to prove a command wrote nothing."""

import shutil
from pathlib import Path

from click.testing import CliRunner

from gen.cli.main import cli

CPU = ["--set", "train.device=cpu", "--set", "train.steps=2", "--set", "train.batch_size=16"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False,
                              prog_name="gen")


def trained_copies(cache: dict[str, Path], names: tuple[str, ...],
                   tmp_path_factory) -> dict[str, Path]:
    """A copy of one trained run of each model in ``names``; the runs are trained the first
    time (``cache`` keeps them for the session)."""
    if not cache:
        root = tmp_path_factory.mktemp("toy-runs")
        for name in names:
            result = invoke("train", name, "--out", root / name, "-q", *CPU)
            assert result.exit_code == 0, result.output
            cache[name] = root / name
    copies = tmp_path_factory.mktemp("copies")
    return {k: Path(shutil.copytree(v, copies / k)) for k, v in cache.items()}


def tree(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every file under ``root`` by size and modification time (folders as None)."""
    return {str(p.relative_to(root)): None if p.is_dir() else (p.stat().st_size,
                                                                p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}
