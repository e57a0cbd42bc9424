"""What commands cost and say of it: `gen evaluate`'s nll takes the draws its model declares,
states its network calls before it starts and shows its progress where stderr is piped;
`gen list-models` reads capabilities from the classes once, then from a cache."""

import json
import sys
from importlib import metadata
from typing import Literal

import pytest
from cli_runs import CPU, invoke
from plugin_helpers import fake_distribution, plugin_module
from toy_plugin import ToyVAESpec
from toy_plugin.vae import ToyVAE

import gen.progress
from gen import capability_cache
from gen.capabilities import check_model_class
from gen.plugins import Plugins

# --- the draws of an importance-weighted nll -----------------------------------------------


class FewDrawsSpec(ToyVAESpec):
    name: Literal["toy-few-draws"] = "toy-few-draws"


class FewDraws(ToyVAE):
    """A VAE whose bound is tight enough at a few draws, as a flow's is at one."""

    default_iw_samples = 3


@pytest.fixture
def runs(toy_plugins, monkeypatch, tmp_path):
    """Trained runs of the toy VAE (no declared draws) and of one declaring 3."""

    def gen_register_models(register):
        register(name="toy-few-draws", kind="latent-variable", summary="three draws",
                 spec="few_draws:FewDrawsSpec", model="few_draws:FewDraws")

    module = plugin_module(monkeypatch, "few_draws", gen_register_models=gen_register_models)
    module.FewDrawsSpec, module.FewDraws = FewDrawsSpec, FewDraws
    assert toy_plugins.add(module, "few-draws", "0").ok
    for name in ("toy-vae", "toy-few-draws"):
        result = invoke("train", name, "--out", tmp_path / name, "-q", *CPU)
        assert result.exit_code == 0, result.output
    return {name: tmp_path / name for name in ("toy-vae", "toy-few-draws")}


def nll(run, *args):
    result = invoke("evaluate", run, "--metrics", "nll", "--limit", "20", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0], result.stderr


def test_a_model_declares_its_draws_and_evaluate_states_their_cost_first(runs):
    record, said = nll(runs["toy-few-draws"])
    assert record["estimator"] == "importance-weighted, K=3"
    assert ("nll of 20 reference images, importance-weighted with K=3 draws each: 60 network "
            "calls") in said
    record, said = nll(runs["toy-few-draws"], "--iw-samples", "5")
    assert record["estimator"] == "importance-weighted, K=5" and "K=5 draws each: 100" in said
    record, said = nll(runs["toy-vae"])  # none declared: gen's 1000
    assert record["estimator"] == "importance-weighted, K=1000"
    assert "K=1000 draws each: 20,000 network calls" in said


@pytest.mark.parametrize("draws", [0, -1, True, 2.5, "3"])
def test_a_declared_number_of_draws_must_be_a_whole_number_of_at_least_one(draws):
    sloppy = type("Sloppy", (FewDraws,), {"default_iw_samples": draws})
    assert check_model_class(sloppy) == [
        f"default_iw_samples = {draws!r}; expected a whole number >= 1 or None"]
    assert check_model_class(FewDraws) == check_model_class(ToyVAE) == []


def test_a_likelihood_shows_its_progress_in_plain_lines_where_stderr_is_piped(runs,
                                                                             monkeypatch):
    """A bar shows nothing until a piped command ends; a line every PLAIN_EVERY seconds
    does, and work done sooner prints none."""
    _, said = nll(runs["toy-vae"], "--batch-size", "8")
    assert "reference images 8/20" not in said
    monkeypatch.setattr(gen.progress, "PLAIN_EVERY", 0.0)
    _, said = nll(runs["toy-vae"], "--batch-size", "8")
    lines = [line for line in said.splitlines() if line.startswith("nll of the reference")]
    assert [line.split()[5] for line in lines] == ["8/20", "16/20", "20/20"]
    assert "elapsed 0:00:0" in lines[0] and "ETA" in lines[0]


# --- list-models' cache of capabilities ----------------------------------------------------


@pytest.fixture
def fake(tmp_path, monkeypatch, gen_cache):
    """The fake installed distribution's plugin alone, and a count of the classes read."""
    models = fake_distribution(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    ep = next(iter(metadata.distribution("fake-gen-plugin").entry_points))
    plugins = Plugins()
    assert plugins.add_entry_point(ep).ok
    loads = []
    load = capability_cache._load
    monkeypatch.setattr(capability_cache, "_load", lambda info: loads.append(info) or load(info))
    yield models, list(plugins.registry), loads
    for name in ("fake_gen_plugin", "fake_gen_plugin.models"):  # of this test's folder
        sys.modules.pop(name, None)


def test_capabilities_are_read_from_the_class_once_and_again_after_an_edit(fake):
    models, infos, loads = fake
    listed = capability_cache.listings(infos)
    assert listed == {"fake-plugin:fake-density": (["sample", "nll"], None, None)}
    assert capability_cache.listings(infos) == listed and len(loads) == 1
    models.write_text(models.read_text() + "\n    def encode(self, x, y=None):\n"
                      "        return x.flatten(1)\n")
    sys.modules.pop("fake_gen_plugin.models")  # imported anew, as in a new process
    caps, _, _ = capability_cache.listings(infos)["fake-plugin:fake-density"]
    assert caps == ["sample", "nll", "encode"] and len(loads) == 2


@pytest.mark.parametrize("damage", [
    "not json", "[]", '{"format": 0, "models": {}}', '{"format": 1, "models": []}',
    '{"format": 1, "models": {"fake-plugin:fake-density": {"key": "x"}}}',
])
def test_a_damaged_cache_is_passed_over_and_written_anew(fake, gen_cache, damage):
    _, infos, loads = fake
    capability_cache.listings(infos)
    cache = capability_cache.cache_file()
    entry = json.loads(cache.read_text())["models"]["fake-plugin:fake-density"]
    cache.write_text(damage.replace('"x"', json.dumps(entry["key"])))  # a key that holds
    assert capability_cache.listings(infos)["fake-plugin:fake-density"][0] == ["sample", "nll"]
    assert len(loads) == 2 and json.loads(cache.read_text())["models"]
    capability_cache.listings(infos)
    assert len(loads) == 2


def test_a_cache_that_cannot_be_written_only_costs_time(fake, gen_cache):
    _, infos, loads = fake
    gen_cache.parent.mkdir(parents=True, exist_ok=True)
    gen_cache.write_text("a file, not a folder")
    for _ in range(2):
        assert capability_cache.listings(infos)["fake-plugin:fake-density"][0] == [
            "sample", "nll"]
    assert len(loads) == 2


def test_what_is_no_distribution_or_cannot_be_loaded_is_never_kept(fake, toy_plugins,
                                                                    gen_cache):
    models, _, loads = fake
    listed = json.loads(invoke("list-models", "--json").output)
    assert [r["name"] for r in listed] == ["toy", "toy-density", "toy-vae"]
    assert not capability_cache.cache_file().exists(), "a plugin of $GEN_PLUGINS, a test's"
    models.write_text("raise ImportError('half-written')\n")
    _, infos, _ = fake
    for _ in range(2):
        caps, _, error = capability_cache.listings(infos)["fake-plugin:fake-density"]
        assert caps is None and "half-written" in error
    assert len(loads) == 5 and not capability_cache.cache_file().exists()
