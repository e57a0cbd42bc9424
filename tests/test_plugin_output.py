"""A plugin's code is checked, not trusted (docs/robustness.md, "Plugins"): what a model
returns (shape, count, dtype, finite values) is checked before anything is written; what it
raises or prints is named and kept off stdout; gen's own cleanup never hides the real error.

Misbehaving models subclass the toy plugin's ToyDensity and are registered as plugin 'rogue'.
A run is trained with the well-behaved class, which is then swapped for the rogue one, as if
the plugin had been upgraded since."""

import errno
import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from plugin_helpers import plugin_module
from toy_plugin.density import ToyDensity

import gen.plugins
from gen.cli.main import cli
from gen.errors import PluginError, WriteError
from gen.fileio import atomic_write
from gen.handle import Run
from gen.plugin_code import plugin_code
from gen.plugins import Plugins

CPU = ["--set", "train.device=cpu"]
SHAPE = (1, 8, 8)  # toy-density's images


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def install(monkeypatch, model: type) -> types.ModuleType:
    """The CLI's plugins: gen-core's and 'rogue', whose 'toy-density' is
    ``rogue_models.Model`` (``model`` until swapped)."""
    models = types.ModuleType("rogue_models")
    models.Model = model
    monkeypatch.setitem(sys.modules, "rogue_models", models)

    def gen_register_models(register):
        register(name="toy-density", kind="autoregressive", summary="rogue",
                 spec="toy_plugin:ToyDensitySpec", model="rogue_models:Model")

    plugins = Plugins()
    plugins.add_core()
    assert plugins.add(plugin_module(monkeypatch, "rogue",
                                     gen_register_models=gen_register_models), "rogue").ok
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    return models


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    """A run trained by a well-behaved 'rogue' plugin (once: copies are handed out)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        install(monkeypatch, ToyDensity)
        result = invoke("train", "toy-density", "--out", run, "-q", *CPU,
                        "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    return run


@pytest.fixture
def trained(trained_once, monkeypatch, tmp_path):
    """A copy of that run, and the plugin's module to swap classes in."""
    run = Path(shutil.copytree(trained_once, tmp_path / "run"))
    return run, install(monkeypatch, ToyDensity)


def one_error(result, code: int, fragment: str) -> None:
    """Exit ``code`` and one ``error:`` line holding ``fragment``; no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr


def drawing(images):
    """A ToyDensity whose ``sample(n)`` returns ``images(n, drawn)`` outside training."""

    class Drawing(ToyDensity):
        def sample(self, n, labels=None, generator=None):
            drawn = super().sample(n, labels, generator)
            return drawn if self.net.training else images(n, drawn)

    return Drawing


# --- 9. what sample and log_prob return ------------------------------------------------------


@pytest.mark.parametrize("images, problem", [
    (lambda n, x: x[:, :, :-1], "sample(8) returned a tensor of shape (8, 1, 7, 8); expected "
                                "(8, 1, 8, 8)"),
    (lambda n, x: x[: n - 1], "sample(8) returned a tensor of shape (7, 1, 8, 8); expected "
                              "(8, 1, 8, 8)"),
    (lambda n, x: x.masked_fill(torch.arange(n).view(n, 1, 1, 1) == 2, float("nan")),
     "sample(8) returned NaN for 1 of 8 images"),
    (lambda n, x: x / 0, "sample(8) returned inf, -inf for 8 of 8 images"),
    (lambda n, x: ((x + 1) * 127.5).to(torch.uint8), "sample(8) returned a tensor of "
                                                     "torch.uint8; expected floating point"),
    (lambda n, x: x.tolist(), "sample(8) returned list, not a tensor"),
])
@pytest.mark.parametrize("out", ["x.npz", "x.png", "pngs/"])
def test_a_sample_of_the_wrong_shape_count_or_values_is_an_error_and_writes_nothing(
        trained, images, problem, out):
    run, models = trained
    models.Model = drawing(images)
    before = snapshot(run)
    result = invoke("sample", run, "-n", 8, "--out", f"{run}/{out}", "--device", "cpu")
    one_error(result, 1, f"model 'toy-density' of plugin 'rogue': {problem}, in sample")
    assert snapshot(run) == before


def test_images_beyond_minus_one_to_one_are_clipped_as_before(trained):
    run, models = trained
    models.Model = drawing(lambda n, x: x * 3)
    assert invoke("sample", run, "-n", 4, "--out", run / "x.npz").exit_code == 0
    assert set(np.unique(np.load(run / "x.npz")["images"])) <= {0, 255}


def test_run_sample_and_its_batches_are_checked_too(trained):
    run, models = trained
    models.Model = drawing(lambda n, x: x[: n - 1])
    with pytest.raises(PluginError, match=r"sample\(2\) returned a tensor of shape \(1, "):
        Run(run, device="cpu").sample(6, batch_size=2)


class NaNLogProb(ToyDensity):
    def log_prob(self, x, y=None):
        log_p = super().log_prob(x, y)
        return log_p if self.net.training else torch.cat([log_p[:1] * float("nan"), log_p[1:]])


class LogProbPerPixel(ToyDensity):
    def log_prob(self, x, y=None):
        log_p = super().log_prob(x, y)
        return log_p if self.net.training else log_p[:, None].expand(-1, 2)


@pytest.mark.parametrize("model, problem", [
    (NaNLogProb, "log_prob returned NaN for 1 of 50 images"),
    (LogProbPerPixel, "log_prob returned a tensor of shape (50, 2); expected (50,)"),
])
def test_a_log_prob_that_is_not_one_finite_value_per_image_is_an_error_and_not_recorded(
        trained, model, problem):
    run, models = trained
    models.Model = model
    before = snapshot(run)
    result = invoke("evaluate", run, "--metrics", "nll", "--limit", 50, "--batch-size", 50,
                    "--device", "cpu")
    one_error(result, 1, f"model 'toy-density' of plugin 'rogue': {problem}, in the evaluation")
    assert "nll nan" not in result.output
    assert snapshot(run) == before, "no metrics.jsonl line"


# --- 10. what a plugin raises or prints ----------------------------------------------------


class RaisesInInit(ToyDensity):
    def __init__(self, spec, data):
        raise ValueError("latent_dim must be even")


def test_init_raising_is_a_clean_error_naming_the_plugin(monkeypatch, tmp_path):
    install(monkeypatch, RaisesInInit)
    result = invoke("train", "toy-density", "--out", tmp_path / "run", "-q", *CPU)
    one_error(result, 1, "model 'toy-density' of plugin 'rogue' raised ValueError('latent_dim "
                         "must be even') in __init__: training stopped")
    assert not (tmp_path / "run").exists()


def test_init_raising_when_a_run_is_loaded_names_the_plugin_and_the_checkpoint(trained):
    run, models = trained
    models.Model = RaisesInInit
    result = invoke("sample", run, "-n", 4, "--device", "cpu")
    one_error(result, 1, "model 'toy-density' of plugin 'rogue' raised ValueError('latent_dim "
                         f"must be even') in __init__ (building from {run / 'checkpoints'}")


class FailsAtStep3(ToyDensity):
    def train_step(self, next_batch):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return super().train_step(next_batch)


def test_train_step_raising_names_the_plugin_and_the_last_checkpoint(monkeypatch, tmp_path):
    install(monkeypatch, FailsAtStep3)
    run = tmp_path / "run"
    result = invoke("train", "toy-density", "--out", run, "-q", *CPU, "--set", "train.steps=6",
                    "--set", "train.checkpoint_every=2")
    one_error(result, 1, "model 'toy-density' of plugin 'rogue' raised RuntimeError('CUDA "
                         "error: an illegal memory access was encountered') in train_step at "
                         "step 3: training stopped, the last checkpoint is")
    assert str(run / "checkpoints" / "step-000002.pt") in " ".join(result.stderr.split())


class RaisesWhenSampling(ToyDensity):
    def sample(self, n, labels=None, generator=None):
        if not self.net.training:
            raise IndexError("list index out of range")
        return super().sample(n, labels, generator)


def test_sample_raising_is_a_clean_error(trained):
    run, models = trained
    models.Model = RaisesWhenSampling
    result = invoke("sample", run, "-n", 4, "--device", "cpu")
    one_error(result, 1, "model 'toy-density' of plugin 'rogue' raised IndexError('list index "
                         "out of range') in sample")


class Chatty(ToyDensity):
    def log_prob(self, x, y=None):
        print("chatty: scoring a batch")
        return super().log_prob(x, y)


def test_what_a_plugin_prints_in_log_prob_does_not_corrupt_json(trained):
    run, models = trained
    models.Model = Chatty
    result = invoke("evaluate", run, "--metrics", "nll", "--limit", 20, "--json",
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["metric"] == "nll"
    assert "chatty: scoring a batch" in result.stderr


class DividesByZero(ToyDensity):
    def sample(self, n, labels=None, generator=None):
        return n / 0


def test_an_error_that_never_passed_through_the_plugin_is_gens_and_keeps_its_traceback():
    model = DividesByZero.__new__(DividesByZero)
    with (pytest.raises(PluginError, match=r"raised ZeroDivisionError\('division by zero'\) "
                        "in sample$") as err,
          plugin_code("toy-density", "rogue", "sample")):
        model.sample(2)
    assert isinstance(err.value.__cause__, ZeroDivisionError), "the plugin's traceback is kept"
    with (pytest.raises(ZeroDivisionError),  # gen's own bug: not blamed on the plugin
          plugin_code("toy-density", "rogue", "sample")):
        print(1 / 0)
    with pytest.raises(KeyboardInterrupt), plugin_code("toy-density", "rogue", "sample"):
        raise KeyboardInterrupt


# --- 11. cleanup paths -------------------------------------------------------------------------


def test_an_abandoned_sample_batches_generator_closes_quietly(trained, monkeypatch):
    run, _ = trained
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    batches = Run(run, device="cpu").sample_batches(6, batch_size=2)
    assert next(batches).shape == (2, *SHAPE)
    batches.close()  # what the garbage collector does to one a caller dropped
    del batches
    assert unraisable == []


def test_cleanup_on_a_read_only_file_system_keeps_the_real_error(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(WriteError) as err:
        atomic_write(tmp_path / "x.npz", read_only)
    assert str(err.value) == f"cannot write {tmp_path / 'x.npz'}: read-only file system"


def test_a_failing_process_under_nproc_ends_without_torchruns_traceback(toy_env, tmp_path):
    (tmp_path / "rogue_plugin.py").write_text(textwrap.dedent("""\
        import gen
        from toy_plugin.density import ToyDensity


        class Model(ToyDensity):
            def train_step(self, next_batch):
                raise RuntimeError("out of luck")


        @gen.hookimpl
        def gen_register_models(register):
            register(name="toy-density", kind="autoregressive", summary="rogue",
                     spec="toy_plugin:ToyDensitySpec", model="rogue_plugin:Model")
    """))
    env = {**toy_env, "GEN_PLUGINS": "rogue_plugin",
           "PYTHONPATH": f"{tmp_path}:{toy_env['PYTHONPATH']}"}
    launch = ("import sys; from gen.launch import run_stoppable, torchrun_command; "
              "sys.exit(run_stoppable(torchrun_command(2, sys.argv[1:]), 2))")  # --nproc 2
    command = [sys.executable, "-c", launch, "train", "toy-density", "--out",
               str(tmp_path / "run"), "-q", *CPU, "--set", "train.batch_size=16"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    text = " ".join(result.stderr.split())
    for rank in (0, 1):
        assert (f"[rank {rank}] error: model 'toy-density' of plugin 'rogue_plugin' raised "
                "RuntimeError('out of luck') in train_step at step 1") in text
    assert "Traceback" not in result.stderr and "ChildFailedError" not in result.stderr
