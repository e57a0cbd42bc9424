"""Output that works where people run gen: plain progress lines and whole tables without a
terminal, TensorBoard grids and scores, a folder of PNGs, resolved specs, and help everywhere."""

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from rich.console import Console

from gen.cli.main import cli
from gen.images import save_png_folder
from gen.training.progress import ProgressView


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def train_toy(run, name="toy", *overrides):
    sets = [a for o in ("train.steps=2", "train.device=cpu", *overrides) for a in ("--set", o)]
    result = invoke("train", name, "--out", str(run), "-q", *sets)
    assert result.exit_code == 0, result.output
    return run


# --- 1. progress lines without a terminal ----------------------------------------------------

CLOCK = r"\d+:\d\d:\d\d"
LINE = re.compile(rf"^step (\d+)/6  d_loss \S+  g_loss \S+  \d+ img/s  "
                  rf"elapsed {CLOCK}  ETA {CLOCK}$")


def test_training_without_a_terminal_prints_a_line_every_log_step(gen_cli, tmp_path):
    sets = [a for o in ("train.steps=6", "train.log_every=2", "train.device=cpu")
            for a in ("--set", o)]
    loud = gen_cli("train", "toy", "--out", str(tmp_path / "loud"), *sets)
    assert loud.returncode == 0, loud.stderr
    steps = [int(m[1]) for m in map(LINE.match, loud.stderr.splitlines()) if m]
    assert steps == [2, 4, 6], loud.stderr
    quiet = gen_cli("train", "toy", "--out", str(tmp_path / "quiet"), "-q", *sets)
    assert quiet.returncode == 0 and "step " not in quiet.stderr, quiet.stderr


def test_progress_line_counts_the_eta_from_the_step_resumed_at():
    out = io.StringIO()
    with ProgressView(1000, 100, Console(file=out), enabled=True) as view:
        view.status({"step": 200, "d_loss": 0.693147, "grad_norm/generator": 3.0,
                     "images_per_s": 812.4, "elapsed_s": 10.0})
    # 100 steps in 10 s since the resume at step 100: 800 steps left take 80 s
    assert out.getvalue() == ("step 200/1000  d_loss 0.693  812 img/s  elapsed 0:00:10  "
                              "ETA 0:01:20\n")


@pytest.mark.parametrize("max_time, eta", [(30.0, "0:00:20 (train.max_time)"),
                                           (3600.0, "0:01:20"), (5.0, "0:00:00 (train.max_time)")])
def test_the_eta_is_the_earlier_of_the_steps_and_max_time(max_time, eta):
    out = io.StringIO()
    with ProgressView(1000, 100, Console(file=out), enabled=True, max_time=max_time) as view:
        view.status({"step": 200, "d_loss": 0.5, "elapsed_s": 10.0})
    assert out.getvalue() == f"step 200/1000  d_loss 0.5  elapsed 0:00:10  ETA {eta}\n"


def test_the_bar_shows_elapsed_time_and_an_eta_within_max_time():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    with ProgressView(1000, 0, console, enabled=True, max_time=0.0) as view:
        view.advance(1)
    assert re.search(r"elapsed 0:00:00  ETA 0:00:00 \(train.max_time\)", out.getvalue())


def test_each_evaluation_prints_its_score_with_the_step_and_how_it_was_measured():
    out = io.StringIO()
    fid = {"metric": "fid", "value": 307.61, "step": 500, "images": 500, "real_images": 1000,
           "generated_images": 500, "extractor": "lenet"}
    nll = {"metric": "nll", "value": 81.234, "step": 1000, "images": 10000,
           "bits_per_dim": 0.1494}
    coverage = {"classes_covered": 9, "num_classes": 10}
    with ProgressView(1000, 0, Console(file=out), enabled=True) as view:
        view.score(fid, coverage, best=True)
        view.score(nll, None, best=False)
    assert out.getvalue().splitlines() == [
        "step 500/1000  eval fid 307.6 (n 500, real 1000, lenet)  classes 9/10  new best",
        "step 1000/1000  eval nll 81.23 (0.1494 bits/dim, n 10000)"]
    quiet = io.StringIO()
    with ProgressView(1000, 0, Console(file=quiet), enabled=False) as view:
        view.score(nll, None, best=True)
    assert quiet.getvalue() == ""


def test_a_piped_training_log_has_each_evaluations_score(gen_cli, tmp_path):
    sets = [a for o in ("train.steps=4", "train.eval_every=2", "train.eval_metric=nll",
                        "train.eval_n=100", "train.log_every=2", "train.device=cpu")
            for a in ("--set", o)]
    result = gen_cli("train", "toy-density", "--out", str(tmp_path / "run"), *sets)
    assert result.returncode == 0, result.stderr
    score = re.compile(r"^step (\d)/4  eval nll (\S+) \((\S+) bits/dim, n (\d+)\)")
    shown = [m.groups() for m in map(score.match, result.stderr.splitlines()) if m]
    logged = [json.loads(x)["evaluation"] for x in (tmp_path / "run" / "metrics.jsonl")
              .read_text().splitlines() if "evaluation" in x]
    assert [(int(s), float(v), float(b), int(n)) for s, v, b, n in shown] == [
        (r["step"], pytest.approx(r["value"], rel=1e-3), pytest.approx(r["bits_per_dim"], rel=1e-3),
         r["images"]) for r in logged], result.stderr
    assert [r["step"] for r in logged] == [2, 4]


# --- 2. piped tables print whole -------------------------------------------------------------

@pytest.mark.parametrize("command", ["list-models", "plugins"])
def test_piped_tables_print_every_row_whole(command):
    env = {k: v for k, v in os.environ.items() if k not in ("GEN_PLUGINS", "COLUMNS")}
    env["COLUMNS"] = "80"
    out = subprocess.run([sys.executable, "-m", "gen", command], env=env, capture_output=True,
                         text=True)  # stdout a pipe, as in `gen list-models | cat`
    assert out.returncode == 0, out.stderr
    assert "gen-autoregressive" in out.stdout and "…" not in out.stdout
    if command == "list-models":
        line = next(x for x in out.stdout.splitlines() if x.split()[0] == "gated-pixelcnn")
        assert line.rstrip().endswith("optionally class-conditional (van den Oord et al. 2016)")
        assert len(line.rstrip()) > 80



FORK = """import gen


@gen.hookimpl
def gen_register_models(register):
    register(name="dcgan", kind="adversarial", spec="toy_plugin:ToySpec",
             model="toy_plugin.model:Toy",
             summary="A second dcgan, so that gen-gan's must be typed as gen-gan:dcgan")
"""


def test_an_80_column_terminal_shows_every_name_whole_and_folds_summaries(tmp_path):
    (tmp_path / "second_dcgan.py").write_text(FORK)  # a plugin contesting gen-gan's dcgan
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(GEN_PLUGINS="second_dcgan", NO_COLOR="1",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(Path(__file__).parent)]))

    def gen(*args, **extra):
        out = subprocess.run([sys.executable, "-m", "gen", "list-models", *args],
                             env={**env, **extra}, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout

    models = json.loads(gen("--json"))
    owners = Counter(m["name"] for m in models)
    assert owners["dcgan"] == 2
    typed = [f"{m['plugin']}:{m['name']}" if owners[m["name"]] > 1 else m["name"]
             for m in models]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", gen(COLUMNS="80", TTY_COMPATIBLE="1"))  # a terminal
    lines = shown.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert "…" not in shown
    words = [line.split() for line in lines]
    missing = [name for name in typed if not any(name in w for w in words)]
    assert not missing, shown
    flat = " ".join(shown.split())
    assert all(" ".join(m["summary"].split()) in flat for m in models), shown


# --- 3. TensorBoard gets the sample grids and the evaluation scores --------------------------

def test_tensorboard_gets_sample_grids_and_evaluation_scores(toy_plugins, tmp_path):
    pytest.importorskip("tensorboard")
    toy_plugins.add_core()  # its extractors: the evaluator checks train.eval_extractor
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train_toy(tmp_path / "run", "toy-density", "train.steps=4", "train.sample_every=2",
                    "train.eval_every=2", "train.eval_metric=nll")
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"eval/nll", "eval/nll_bits_per_dim"} <= set(tags["scalars"])
    assert "eval_nll" not in tags["scalars"], "one curve per score"
    grids = events.Images("samples")
    assert [g.step for g in grids] == [2, 4]
    assert (grids[0].width, grids[0].height) == (8 * 10 + 2, 8 * 10 + 2)  # 8 x 8 of 8x8, pad 2
    nll = events.Scalars("eval/nll")
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    scores = [r["evaluation"]["value"] for r in logged if "evaluation" in r]
    assert [s.step for s in nll] == [2, 4]
    assert [s.value for s in nll] == pytest.approx(scores)


# --- 4. gen sample --out DIR/ ----------------------------------------------------------------

def test_sample_into_a_folder_writes_one_png_per_image_in_npz_order(toy_plugins, tmp_path):
    run = train_toy(tmp_path / "run")
    folder = tmp_path / "pngs"
    result = invoke("sample", str(run), "-n", "10", "--batch-size", "4", "--out", f"{folder}/")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:06d}.png" for i in range(10)], "no temporary files left"
    invoke("sample", str(run), "-n", "10", "--batch-size", "4", "--out", str(tmp_path / "s.npz"))
    arrays = np.load(tmp_path / "s.npz")["images"]
    pngs = np.stack([np.asarray(Image.open(folder / name)) for name in names])
    assert pngs.shape == (10, 8, 8) and pngs.dtype == np.uint8  # grey: one channel
    assert np.array_equal(pngs, arrays[:, 0])


def test_sample_refuses_to_overwrite_files_in_the_folder(toy_plugins, tmp_path):
    run = train_toy(tmp_path / "run")
    folder = tmp_path / "pngs"
    folder.mkdir()
    (folder / "000003.png").write_bytes(b"a user's file")
    result = invoke("sample", str(run), "-n", "5", "--out", str(folder))  # existing: a folder
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and str(folder) in result.output
    assert [p.name for p in folder.iterdir()] == ["000003.png"]
    assert (folder / "000003.png").read_bytes() == b"a user's file"


def test_png_folder_writes_each_batch_as_it_comes(tmp_path):
    def batches():
        yield torch.zeros(4, 3, 5, 5)
        assert len(list(tmp_path.iterdir())) == 4, "the first batch is on disk, not in memory"
        yield torch.ones(2, 3, 5, 5)

    save_png_folder(tmp_path, 6, batches())
    last = Image.open(tmp_path / "000005.png")
    assert last.mode == "RGB" and last.size == (5, 5) and last.getpixel((0, 0)) == (255,) * 3


# --- 5. gen spec NAME --set ------------------------------------------------------------------

def test_spec_with_overrides_prints_the_resolved_spec(toy_plugins):
    result = invoke("spec", "toy", "--set", "train.steps=200", "--set", "model.latent_dim=7")
    assert result.exit_code == 0, result.output
    spec = json.loads(result.output)
    assert spec["train"]["steps"] == 200 and spec["model"]["latent_dim"] == 7
    assert spec["data"]["image_size"] == 8, "the family's defaults still apply"


@pytest.mark.parametrize(("override", "message"), [
    ("train.stepz=3", "train.stepz: Extra inputs are not permitted (got 3)"),
    ("model.latent_dim=-1", "model.latent_dim: Input should be greater than 0 (got -1)"),
    ("train.steps", "expected KEY=VALUE"),
])
def test_spec_with_a_bad_override_exits_2_naming_the_field(toy_plugins, override, message):
    result = invoke("spec", "toy", "--set", override)
    assert result.exit_code == 2 and message in result.output


def test_spec_overrides_do_not_apply_to_the_schema(toy_plugins):
    result = invoke("spec", "toy", "--schema", "--set", "train.steps=2")
    assert result.exit_code == 2 and "--set does not apply to --schema" in result.output


def test_spec_with_overrides_does_not_import_torch(toy_env):
    check = ("import runpy, sys\n"
             "sys.argv = ['gen', 'spec', 'toy', '--set', 'train.steps=5']\n"
             "try:\n    runpy.run_module('gen', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('TORCH-IMPORTED' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", check], env=toy_env, capture_output=True,
                         text=True)
    assert '"steps": 5' in out.stdout and "NO-TORCH" in out.stderr, out.stderr


# --- 6. every command and option has help ----------------------------------------------------

def _commands(command: click.Command, path: str = "gen"):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, f"{path} {name}")


@pytest.mark.parametrize(("path", "command"), list(_commands(cli)),
                         ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_and_option_has_help(path, command):
    assert (command.help or "").strip(), f"`{path}` has no help text (its docstring)"
    missing = [option.opts[0] for option in command.params
               if isinstance(option, click.Option) and option.name not in ("help", "version")
               and not (option.help or "").strip()]
    assert not missing, f"`{path}`: options without help: {', '.join(missing)}"
