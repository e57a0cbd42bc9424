"""End to end through the installed plugin, as a user runs it: `gen train infogan` and
`gen sample`, each in a fresh process, then the code grid (`python -m gen_infogan.grid`, called
in this process to spare a third torch start-up)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gen_infogan import grid

TINY = ["--set", "train.steps=2", "--set", "train.batch_size=8", "--set", "data.limit=64",
        "--set", "data.workers=0", "--set", "data.image_size=16", "--set", "train.device=cpu",
        "--set", "model.noise_dim=4", "--set", "model.g_features=4",
        "--set", "model.d_features=4", "--set", "model.q_hidden=8"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(*args, check=True):
    """`gen ARGS` in a fresh process (`python -m gen`: the venv's `gen` script, wherever it is)."""
    proc = subprocess.run([sys.executable, "-m", "gen", *args], capture_output=True,
                          text=True, env=ENV, timeout=300)
    if check and proc.returncode != 0:
        pytest.fail(f"gen {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def test_listed_by_the_installed_plugin():
    models = {m["name"]: m for m in json.loads(run("list-models", "--json").stdout)}
    assert models["infogan"]["plugin"] == "gen-infogan"
    assert models["infogan"]["kind"] == "adversarial"
    assert models["infogan"]["conditional"] is False


def test_spec_errors_exit_2():
    proc = run("spec", "infogan", "--set", "data.image_size=48", check=False)
    assert proc.returncode == 2
    assert "data.image_size: infogan needs a power of two from 8 to 64" in proc.stderr


def test_train_then_sample(tmp_path, capsys):
    out = tmp_path / "run"
    run("train", "infogan", "--out", str(out), "-q", *TINY)
    assert (out / "checkpoints" / "step-000002.pt").is_file()
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = logged[-1]
    for key in ("d_loss", "g_loss", "info_loss", "mi_categorical", "q_acc", "d_acc_fake"):
        assert np.isfinite(last[key]), (key, last)

    run("sample", str(out), "-n", "12", "--seed", "0", "--out", str(tmp_path / "s.npz"),
        "--device", "cpu")
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (12, 1, 16, 16) and images.dtype == np.uint8

    assert grid.main([str(out), "--rows", "2"]) == 0
    assert capsys.readouterr().out.strip().endswith("samples/categorical-0-step-000002-seed-0.png")
    assert grid.main([str(out), "--code", "continuous", "--index", "1", "--rows", "3",
                      "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 0
    assert grid.main([str(out), "--code", "continuous", "--index", "2"]) == 2
    assert "no continuous code 2" in capsys.readouterr().err
