"""Plugin isolation (docs/plugins.md, "Broken plugins"): a plugin can neither take gen down
(`sys.exit` at import, in a hook or in `train_step`), nor corrupt what gen prints on stdout,
nor knock another plugin out by registering the same name, nor have its mistakes blamed on the
core. Entry points are faked; misbehaving models subclass the toy plugin's."""

import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from plugin_helpers import entry_point, plugin_module
from toy_plugin.density import ToyDensity

import gen
import gen.plugins
from gen.cli.main import cli
from gen.errors import AmbiguousNameError, CheckpointError, TrainingError, UnknownModelError
from gen.handle import Run
from gen.plugins import Plugins, discover
from gen.run.layout import RunDir
from gen.testing import ModelConformance
from gen.training.loop import Trainer

CPU = ["--set", "train.device=cpu"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)




def registers(*names, spec="m:Spec", model="m:M"):
    def gen_register_models(register):
        for name in names:
            register(name=name, kind="adversarial", summary=f"{name} model", spec=spec,
                     model=model)

    return gen_register_models


def write_module(folder: Path, name: str, code: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(code))


def gen_subprocess(toy_env, folder: Path, modules: str, *args: str):
    """`gen ARGS` in a subprocess that loads ``modules`` (GEN_PLUGINS) from ``folder``."""
    env = {**toy_env, "GEN_PLUGINS": modules,
           "PYTHONPATH": f"{folder}:{toy_env['PYTHONPATH']}"}
    return subprocess.run([sys.executable, "-m", "gen", *args], env=env, capture_output=True,
                          text=True)


# --- 1. sys.exit at import, in a hook, in train_step ---------------------------------------


def test_a_plugin_exiting_at_import_or_in_a_hook_is_broken_and_the_others_load(
        monkeypatch, tmp_path):
    write_module(tmp_path, "exits_zero_at_import", "raise SystemExit(0)\n")
    write_module(tmp_path, "exits_three_at_import", "import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class Odd(BaseException):
        pass

    def exits(register):
        raise SystemExit(0)

    def raises_odd(register):
        raise Odd("not an Exception")

    plugin_module(monkeypatch, "exits_in_hook", gen_register_models=exits)
    plugin_module(monkeypatch, "odd_in_hook", gen_register_extractors=raises_odd)
    plugin_module(monkeypatch, "fine", gen_register_models=registers("alpha"))
    plugins = discover([entry_point(n, m) for n, m in [
        ("a", "exits_zero_at_import"), ("b", "exits_three_at_import"), ("c", "exits_in_hook"),
        ("d", "odd_in_hook"), ("e", "fine")]])
    errors = {r.name: r.error for r in plugins.records}
    assert errors == {
        "a": "failed to import 'exits_zero_at_import': SystemExit: 0",
        "b": "failed to import 'exits_three_at_import': SystemExit: 3",
        "c": "SystemExit: 0",
        "d": "Odd: not an Exception",
        "e": None,
    }
    assert list(plugins.registry.models) == ["alpha"]


def test_the_cli_keeps_working_when_a_plugin_calls_sys_exit_at_import(toy_env, tmp_path):
    write_module(tmp_path, "exiting_plugin", "import sys\nsys.exit(3)\n")
    out = gen_subprocess(toy_env, tmp_path, "exiting_plugin,toy_plugin", "list-models")
    assert out.returncode == 0, out.stderr
    assert "toy-density" in out.stdout
    assert ("plugin exiting_plugin is broken: failed to import 'exiting_plugin': SystemExit: 3"
            in " ".join(out.stderr.split()))


class ExitsAtStep3(ToyDensity):
    def train_step(self, next_batch):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            raise SystemExit(0)
        return super().train_step(next_batch)


class InterruptedAtStep2(ToyDensity):
    def train_step(self, next_batch):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return super().train_step(next_batch)


def rogue(monkeypatch, model: type) -> Plugins:
    """The CLI's plugins: only 'rogue', whose 'toy-density' is ``model``."""
    models = types.ModuleType("rogue_models")
    models.Model = model
    monkeypatch.setitem(sys.modules, "rogue_models", models)
    hook = registers("toy-density", spec="toy_plugin:ToyDensitySpec", model="rogue_models:Model")
    plugins = Plugins()
    plugins.add_core()  # the data sets
    assert plugins.add(plugin_module(monkeypatch, "rogue", gen_register_models=hook), "rogue").ok
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    return plugins


def test_system_exit_in_train_step_is_a_training_error_and_keeps_the_checkpoint(
        monkeypatch, tmp_path):
    rogue(monkeypatch, ExitsAtStep3)
    run = tmp_path / "run"
    result = invoke("train", "toy-density", "--out", run, "-q", *CPU, "--set", "train.steps=6",
                    "--set", "train.checkpoint_every=2")
    assert result.exit_code == 1, result.output
    assert ("error: model 'toy-density' of plugin 'rogue' raised SystemExit(0) in train_step "
            f"at step 3: training stopped, the last checkpoint is "
            f"{run / 'checkpoints' / 'step-000002.pt'}") in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert sorted(RunDir(run).step_checkpoints()) == [2]


def test_ctrl_c_in_train_step_still_interrupts(monkeypatch, tmp_path):
    plugins = rogue(monkeypatch, InterruptedAtStep2)
    spec = gen.specs.validate(plugins.registry.get("toy-density").spec_class(), {},
                              ["train.device=cpu", "train.steps=4"])
    trainer = Trainer(plugins.registry.get("toy-density"), spec, RunDir(tmp_path / "run"),
                      show_progress=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.train()


class ExitsWhenSampling(ToyDensity):
    def sample(self, n, labels=None, generator=None):
        if not self.modules["net"].training:  # not the grids during training
            raise SystemExit(0)
        return super().sample(n, labels, generator)

    def log_prob(self, x, y=None):
        if not self.modules["net"].training:  # gen evaluate, not train_step
            raise SystemExit(0)
        return super().log_prob(x, y)


def test_system_exit_in_a_models_code_outside_training_is_an_error(monkeypatch, tmp_path):
    rogue(monkeypatch, ExitsWhenSampling)
    run = tmp_path / "run"
    assert invoke("train", "toy-density", "--out", run, "-q", *CPU,
                  "--set", "train.steps=2").exit_code == 0
    for command, where in ((["sample", run], "sample"),
                           (["evaluate", run, "--metrics", "nll"], "the evaluation")):
        result = invoke(*command, "--device", "cpu")
        assert result.exit_code == 1, result.output
        assert (f"error: model 'toy-density' of plugin 'rogue' raised SystemExit(0) in {where}"
                in result.output)


# --- 2. what a plugin prints goes to stderr ----------------------------------------------------


def test_what_a_plugin_prints_while_discovered_goes_to_stderr(toy_env, tmp_path):
    (tmp_path / "noisy_plugin").mkdir()
    write_module(tmp_path / "noisy_plugin", "__init__", """\
        import gen

        print("noisy: imported")


        @gen.hookimpl
        def gen_register_models(register):
            print("noisy: registering")
            register(name="noisy", kind="adversarial", summary="prints",
                     spec="noisy_plugin.specs:NoisySpec", model="toy_plugin.model:Toy")
    """)
    write_module(tmp_path / "noisy_plugin", "specs", """\
        from typing import Literal

        from toy_plugin import ToySpec

        print("noisy: spec module imported")


        class NoisySpec(ToySpec):
            name: Literal["noisy"] = "noisy"
    """)
    spec = gen_subprocess(toy_env, tmp_path, "noisy_plugin,toy_plugin", "spec", "noisy")
    assert spec.returncode == 0, spec.stderr
    assert json.loads(spec.stdout)["model"]["name"] == "noisy"
    for line in ("noisy: imported", "noisy: registering", "noisy: spec module imported"):
        assert line in spec.stderr
    listed = gen_subprocess(toy_env, tmp_path, "noisy_plugin,toy_plugin", "list-models", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"noisy", "toy"} <= {m["name"] for m in json.loads(listed.stdout)}


# --- 3. a name two plugins register -------------------------------------------------------------


def test_two_plugins_registering_one_name_both_load_and_the_name_must_be_qualified(monkeypatch):
    plugin_module(monkeypatch, "a_gan", gen_register_models=registers("dcgan", "wgan"))
    plugin_module(monkeypatch, "b_gan", gen_register_models=registers("dcgan", "sngan"))
    plugins = discover([entry_point("a-gan", "a_gan"), entry_point("b-gan", "b_gan")])
    assert [(r.name, r.ok, r.models) for r in plugins.records] == [
        ("a-gan", True, ["dcgan", "wgan"]), ("b-gan", True, ["dcgan", "sngan"])]
    registry = plugins.registry
    assert sorted(registry.models) == ["a-gan:dcgan", "b-gan:dcgan", "sngan", "wgan"]
    assert registry.contested() == {"dcgan": ["a-gan", "b-gan"]}
    with pytest.raises(AmbiguousNameError) as err:
        registry.get("dcgan")
    assert err.value.exit_code == 2
    assert str(err.value) == (
        "model name 'dcgan' is registered by 2 plugins ('a-gan', 'b-gan'): name the one you "
        "mean as PLUGIN:MODEL, 'a-gan:dcgan' or 'b-gan:dcgan'")
    assert registry.get("b-gan:dcgan").plugin == "b-gan"
    assert registry.get("a-gan:wgan").plugin == "a-gan" and registry.get("sngan").name == "sngan"
    with pytest.raises(UnknownModelError, match="plugin 'c-gan' registers no model 'dcgan'"):
        registry.get("c-gan:dcgan")


def test_two_plugins_registering_one_extractor_name_both_load(monkeypatch):
    def pixels(register):
        register(name="pixels", summary="raw pixels", extractor="m:build")

    plugins = Plugins()
    for name in ("first", "second"):
        assert plugins.add(plugin_module(monkeypatch, name, gen_register_extractors=pixels),
                           name).ok
    with pytest.raises(AmbiguousNameError, match="'first:pixels' or 'second:pixels'"):
        plugins.registry.get_extractor("pixels")
    assert plugins.registry.get_extractor("second:pixels").plugin == "second"


@pytest.fixture
def toy_fork(toy_plugins, monkeypatch):
    """The toy plugin's set plus 'toy-fork', which registers 'toy' too (the same classes)."""
    hook = registers("toy", spec="toy_plugin:ToySpec", model="toy_plugin.model:Toy")
    assert toy_plugins.add(plugin_module(monkeypatch, "toy_fork", gen_register_models=hook),
                           "toy-fork").ok
    return toy_plugins


def test_a_contested_name_is_used_qualified_and_a_run_keeps_its_plugin(toy_fork, tmp_path):
    result = invoke("train", "toy", "-q", *CPU)
    assert result.exit_code == 2, result.output
    assert "'toy-fork:toy' or 'toy-plugin:toy'" in result.output
    listed = invoke("list-models")
    assert "toy-fork:toy" in listed.output and "toy-plugin:toy" in listed.output
    assert "warning: model name 'toy' is registered by plugins toy-fork, toy-plugin" in \
        " ".join(listed.output.split())

    spec = invoke("spec", "toy-fork:toy")
    assert spec.exit_code == 0 and json.loads(spec.output)["model"]["name"] == "toy"
    (tmp_path / "s.json").write_text(spec.output)
    run = tmp_path / "run"
    result = invoke("train", "toy-fork:toy", "--spec", tmp_path / "s.json", "--out", run, "-q",
                    *CPU, "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "run.json").read_text())["plugin"] == "toy-fork"
    assert Run(run, device="cpu").model_info.plugin == "toy-fork"

    resumed = invoke("train", "toy", "--out", run, "--resume", "-q", "--set", "train.steps=3")
    assert resumed.exit_code == 0, resumed.output
    other = invoke("train", "toy-plugin:toy", "--out", run, "--resume", "-q")
    assert other.exit_code == 2
    assert "was trained with model 'toy' of plugin 'toy-fork', not of 'toy-plugin'" in \
        " ".join(other.output.split())
    assert gen.train("toy-plugin:toy", overrides={"train.device": "cpu", "train.steps": 1},
                     out=tmp_path / "api", progress=False).model_info.plugin == "toy-plugin"


@pytest.mark.parametrize("disabled, why", [
    ("toy-plugin", "which is disabled by GEN_DISABLE_PLUGINS"),
    ("", "which is not installed"),
])
def test_a_run_loads_only_through_the_plugin_that_trained_it(toy_plugins, tmp_path,
                                                              monkeypatch, disabled, why):
    run = tmp_path / "run"
    assert invoke("train", "toy", "--out", run, "-q", *CPU, "--set", "train.steps=1"
                  ).exit_code == 0
    # The same module installed under another name: its 'toy' is not the run's.
    eps = [entry_point("renamed", "toy_plugin")]
    if disabled:
        eps.append(entry_point("toy-plugin", "toy_plugin"))
    monkeypatch.setenv("GEN_DISABLE_PLUGINS", disabled)
    plugins = discover(eps)
    assert plugins.registry.get("toy").plugin == "renamed"
    message = f"run {run} was trained with model 'toy' of plugin 'toy-plugin', {why}"
    with pytest.raises(CheckpointError) as err:
        _ = Run(run, plugins=plugins).model_info
    assert str(err.value) == message
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    result = invoke("train", "toy", "--out", run, "--resume", "-q", "--set", "train.steps=2")
    assert result.exit_code == 1 and message in " ".join(result.output.split())


# --- 4. what train_step returns -------------------------------------------------------------


class ReturnsFloat(ToyDensity):
    def train_step(self, next_batch):
        return float(super().train_step(next_batch)["nll"])


class ReturnsFloats(ToyDensity):
    def train_step(self, next_batch):
        return {k: float(v) for k, v in super().train_step(next_batch).items()}


class ReturnsVectors(ToyDensity):
    def train_step(self, next_batch):
        return {k: v.repeat(2) for k, v in super().train_step(next_batch).items()}


@pytest.mark.parametrize("model, got", [
    (ReturnsFloat, "float"),
    (ReturnsFloats, "'nll': float"),
    (ReturnsVectors, "'nll': a tensor of shape (2,)"),
])
def test_train_step_must_return_scalar_tensors_by_name(monkeypatch, tmp_path, model, got):
    rogue(monkeypatch, model)
    result = invoke("train", "toy-density", "--out", tmp_path / "run", "-q", *CPU,
                    "--set", "train.steps=2")
    assert result.exit_code == 1, result.output
    assert ("error: train_step of model 'toy-density' (plugin 'rogue') must return a dict of "
            f"scalar tensors by name; got {got}") in " ".join(result.output.split())
    assert "Traceback" not in result.output


class KitOnToyDensity(ModelConformance):
    model = "toy-density"
    plugin_module = "toy_plugin"


def test_the_conformance_kit_checks_what_train_step_returns(monkeypatch, toy_plugins):
    kit = KitOnToyDensity()
    kit.test_train_step_returns_scalar_tensors_by_name(toy_plugins.registry.get("toy-density"))
    bad = rogue(monkeypatch, ReturnsFloats).registry.get("toy-density")
    with pytest.raises(TrainingError, match="got 'nll': float"):
        kit.test_train_step_returns_scalar_tensors_by_name(bad)
