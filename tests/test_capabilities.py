"""What gen offers a model follows from what its class implements (`gen.capabilities`), never
from its ``kind``: one test per friction a third-party author met writing a flow and an
InfoGAN from the docs, each with a plugin defined here."""

import json
import re
import sys
import types
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from toy_plugin.density import ToyDensity
from toy_plugin.vae import ToyVAE

import gen
from gen.capabilities import capabilities
from gen.cli.main import cli
from gen.errors import PluginError, TrainingError
from gen.plugins import Plugins
from gen.testing import ModelConformance

DOCS = Path(__file__).resolve().parents[1] / "docs"
CPU = ["--set", "train.device=cpu", "--set", "train.steps=2", "--set", "train.batch_size=8",
       "--set", "train.checkpoint_every=2"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def install(monkeypatch, model: type, name: str = "toy-density", kind: str = "flow",
            spec: str = "toy_plugin:ToyDensitySpec") -> Plugins:
    """The CLI's plugins: the core's, and 'third' whose ``name`` is ``model``."""
    module = types.ModuleType("third_models")
    module.Model = model
    monkeypatch.setitem(sys.modules, "third_models", module)

    def gen_register_models(register):
        register(name=name, kind=kind, summary="a third party's model", spec=spec,
                 model="third_models:Model")

    plugin = types.ModuleType("third_plugin")
    plugin.gen_register_models = gen.hookimpl(gen_register_models)
    plugins = Plugins()
    plugins.add_core()
    assert plugins.add(plugin, "third").ok
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    return plugins


class DequantisedFlow(ToyDensity):
    """A density model whose log_prob is a bound that is not an ELBO, and no iw_log_prob."""

    likelihood = "lower-bound"
    likelihood_estimator = "uniform dequantisation, one draw per image"


# 1. kind is an open label -----------------------------------------------------------------

def test_a_flow_kind_loads_and_lists_its_capabilities(monkeypatch):
    install(monkeypatch, DequantisedFlow)
    result = invoke("list-models", "--json")
    assert result.exit_code == 0, result.output
    row = next(r for r in json.loads(result.output) if r["name"] == "toy-density")
    assert row["kind"] == "flow" and row["capabilities"] == ["sample", "nll"]


def test_broken_plugins_never_read_as_nothing_installed(monkeypatch):
    plugins = Plugins()
    plugins.add_core()
    plugins.add_module("no_such_plugin_module_abc")
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    result = invoke("list-models")
    assert "no models installed" not in result.output
    assert "could not be loaded" in result.output and "no_such_plugin_module_abc" in result.output


# 2. the likelihood is checked when the class is loaded --------------------------------------

class Misspelt(ToyDensity):
    likelihood = "exakt"


def test_a_misspelt_likelihood_is_an_error_naming_the_attribute(monkeypatch, tmp_path):
    plugins = install(monkeypatch, Misspelt)
    with pytest.raises(PluginError, match=r"likelihood = 'exakt'; expected 'exact', "
                                          r"'lower-bound' or None"):
        plugins.registry.get("toy-density").model_class()
    result = invoke("train", "toy-density", "--out", tmp_path / "run", "-q", *CPU)
    assert result.exit_code == 1 and "likelihood = 'exakt'" in result.output
    assert not (tmp_path / "run").exists()
    listed = invoke("list-models")
    assert "broken" in listed.output and "likelihood = 'exakt'" in listed.output


# 3. a model names its own estimator ---------------------------------------------------------

def test_a_bound_that_is_not_an_elbo_is_scored_under_its_own_name(monkeypatch, tmp_path):
    install(monkeypatch, DequantisedFlow)
    run = tmp_path / "run"
    assert invoke("train", "toy-density", "--out", run, "-q", *CPU).exit_code == 0
    result = invoke("evaluate", run, "--metrics", "nll,elbo", "--json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    records = {r["metric"]: r for r in json.loads(result.output)}
    for metric in ("nll", "elbo"):
        assert records[metric]["estimator"] == (
            "negative uniform dequantisation, one draw per image (upper bound)")
        assert torch.isfinite(torch.tensor(records[metric]["bits_per_dim"]))
    assert "ELBO" not in result.output


# 4. features hang on methods, and an error names the missing one ----------------------------

class EncoderDecoderOnly(ToyVAE):
    iw_log_prob = None  # encode and decode, but no importance-weighted estimate


class EncoderOnly(ToyVAE):
    decode = None

    @torch.no_grad()
    def sample(self, n, labels=None, generator=None):
        z = torch.randn(n, self.latent_dim, generator=generator, device=self.device)
        return torch.sigmoid(self.decoder(z)).view(-1, *self.shape) * 2 - 1


@pytest.fixture
def vae_run(monkeypatch, tmp_path):
    def train(model: type) -> Path:
        install(monkeypatch, model, name="toy-vae", kind="latent-variable",
                spec="toy_plugin:ToyVAESpec")
        run = tmp_path / model.__name__
        assert invoke("train", "toy-vae", "--out", run, "-q", *CPU).exit_code == 0
        return run
    return train


def test_encode_and_decode_are_enough_to_reconstruct(vae_run, tmp_path):
    run = vae_run(EncoderDecoderOnly)
    assert capabilities(EncoderDecoderOnly) == ["sample", "nll", "encode", "reconstruct"]
    result = invoke("sample", run, "-n", "4", "--reconstruct", "--device", "cpu",
                    "--out", tmp_path / "r.png")
    assert result.exit_code == 0, result.output


def test_a_missing_feature_names_the_method_that_would_provide_it(vae_run, tmp_path):
    run = vae_run(EncoderOnly)
    result = invoke("sample", run, "-n", "4", "--reconstruct", "--device", "cpu",
                    "--out", tmp_path / "r.png")
    assert result.exit_code == 1
    assert "--reconstruct needs encode and decode; 'toy-vae' has no decode" in result.output
    encoded = invoke("encode", run, "--out", tmp_path / "z.npz", "--device", "cpu")
    assert encoded.exit_code == 0, encoded.output  # encode alone is enough for gen encode


# 5. the docs are self-contained ----------------------------------------------------------------

def test_plugin_docs_need_no_file_a_third_party_does_not_have():
    text = (DOCS / "plugins.md").read_text()
    assert not re.search(r"gen_gan/|gen_vae/|gen_autoregressive/", text), (
        "docs/plugins.md points plugin authors at a built-in plugin's source")
    for needed in ("def latent(", "sampler", 'self.modules["q_head"]', "likelihood_estimator",
                   "256 bins", "| capability |", "torch.Generator(device=x.device)"):
        assert needed in text, f"docs/plugins.md does not cover {needed!r}"


# 6. the kit checks the density side -----------------------------------------------------------

class KitOn(ModelConformance):
    model = "toy-density"
    plugin_module = "toy_plugin"


class SignFlipped(ToyDensity):
    def log_prob(self, x, y=None):
        return -super().log_prob(x, y)


class UsesGlobalRNG(ToyDensity):
    def log_prob(self, x, y=None):
        return super().log_prob(x, y) + 0 * torch.rand(())


class Undetached(ToyDensity):
    def train_step(self, next_batch):
        images, _ = next_batch()
        loss = -self.log_prob(images).mean()
        self.optimize("net", loss)
        return {"nll": loss}


class SamplesWithGrad(ToyDensity):
    def sample(self, n, labels=None, generator=None):
        return torch.tanh(self.net.logits).expand(n, *self.net.logits.shape)


class TrainsOutsideModules(ToyDensity):
    def __init__(self, spec, data):
        super().__init__(spec, data)
        self.stray = torch.nn.Parameter(torch.zeros(3, 5))
        self.optimizers["net"].add_param_group({"params": [self.stray]})


@pytest.mark.parametrize("model, check, error, message", [
    (SignFlipped, "test_probabilities_over_every_2x2_binary_image", AssertionError,
     "an exact likelihood must sum to 1 over all 16 binary 2x2 images"),
    (UsesGlobalRNG, "test_log_prob_contract", AssertionError, "log_prob drew from the global RNG"),
    (Undetached, "test_train_step_returns_scalar_tensors_by_name", TrainingError,
     "'nll': a tensor that still requires grad"),
    (SamplesWithGrad, "test_sample_is_no_grad_and_on_the_model_device", AssertionError,
     "sample\\(\\) returned images that require grad"),
    (TrainsOutsideModules, "test_every_trained_parameter_is_in_modules", AssertionError,
     "optimizer 'net' trains a parameter of shape \\(3, 5\\) that is in no module"),
])
def test_the_kit_fails_a_model_that_breaks_the_contract(monkeypatch, toy_plugins, model, check,
                                                        error, message):
    kit = KitOn()
    getattr(kit, check)(toy_plugins.registry.get("toy-density"))  # the toy passes
    bad = install(monkeypatch, model, kind="autoregressive").registry.get("toy-density")
    with pytest.raises(error, match=message):
        getattr(kit, check)(bad)
