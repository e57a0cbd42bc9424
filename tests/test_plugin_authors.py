"""What a plugin author meets (issue 25, 12-15): a distribution or package that replaces a
plugin is warned about; the kit takes a contested or qualified model name; every kit failure
names its likely cause; one rule for `kind`; GEN_PLUGINS naming an installed module. Entry
points are faked, distributions are dist-info folders made in tmp_path."""

import inspect
import re
import sys
import types
from contextlib import nullcontext
from importlib import metadata
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from plugin_helpers import entry_point, plugin_module
from toy_plugin import ToyDensitySpec
from toy_plugin.density import Logits, ToyDensity

import gen
import gen.plugins
import gen.testing.kit
from gen.cli.main import cli
from gen.plugins import discover
from gen.registry import DOCUMENTED_KINDS
from gen.testing import ModelConformance
from gen.testing.discovery import find_model
from gen.testing.tiny import tiny_spec, train_tiny

DOCS = Path(__file__).parents[1] / "docs"


def registers(name, spec="toy_plugin:ToyDensitySpec", model="toy_plugin.density:ToyDensity"):
    def gen_register_models(register):
        register(name=name, kind="autoregressive", summary=f"{name} model", spec=spec,
                 model=model)

    return gen_register_models


# --- 12. another distribution's entry point or package of a plugin's name -------------------

def dist_info(site: Path, name: str, eps: dict[str, str], top_level: str | None = None,
              record: tuple[str, ...] = ()) -> None:
    """An installed distribution as pip leaves it: METADATA, entry points, its files."""
    folder = site / f"{name.replace('-', '_')}-1.0.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (folder / "entry_points.txt").write_text(
        "[gen]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    if top_level is not None:
        (folder / "top_level.txt").write_text(top_level + "\n")
    (folder / "RECORD").write_text("".join(f"{path},,\n" for path in record))


def test_two_distributions_of_one_entry_point_or_package_are_warned_about(
        monkeypatch, tmp_path, gen_cache):
    """clash-flow's package clash_flow is also in acme-flows' files (pip let them overwrite
    it), and acme-flows declares an entry point of clash-flow's name: both are named, by
    `gen plugins` and `gen list-models`, and the second entry point's error says why."""
    site = tmp_path / "site"
    dist_info(site, "clash-flow", {"clash-flow": "clash_flow"}, top_level="clash_flow")
    dist_info(site, "acme-flows", {"clash-flow": "acme_flows"},
              record=("acme_flows/__init__.py", "clash_flow/__init__.py"))
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    plugin_module(monkeypatch, "clash_flow", gen_register_models=registers("toy-density"))
    plugin_module(monkeypatch, "acme_flows", gen_register_models=registers("other"))
    eps = [ep for dist in metadata.distributions(path=[str(site)])
           for ep in dist.entry_points.select(group="gen")]
    plugins = discover(eps)
    loaded, second = (r for r in plugins.records if r.name == "clash-flow")
    assert loaded.ok and not second.ok
    assert "another plugin is already loaded under the name 'clash-flow'" in second.error
    assert "{" not in second.error, "not pluggy's registry dump"
    assert "clash-flow" not in plugins.registry.unloaded, "the first is loaded"
    clashes = plugins.clashes()
    assert any(c.startswith("entry point 'clash-flow' of group 'gen' is declared by "
                            "acme-flows (acme_flows) and clash-flow (clash_flow)")
               for c in clashes), clashes
    assert any(c.startswith("import package 'clash_flow' of plugin 'clash-flow' is provided "
                            "by distributions acme-flows, clash-flow") for c in clashes), clashes
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    for command in ("plugins", "list-models"):
        stderr = " ".join(CliRunner().invoke(cli, [command]).stderr.split())
        assert "warning: import package 'clash_flow' of plugin 'clash-flow'" in stderr, command
        assert "warning: entry point 'clash-flow' of group 'gen'" in stderr, command


def test_a_namespace_package_shared_by_distributions_is_no_clash(monkeypatch, tmp_path):
    site = tmp_path / "site"
    (site / "acme_ns" / "genplugin").mkdir(parents=True)  # no __init__.py: a namespace
    (site / "acme_ns" / "genplugin" / "__init__.py").write_text("")
    dist_info(site, "acme-genplugin", {"acme": "acme_ns.genplugin"},
              record=("acme_ns/genplugin/__init__.py",))
    dist_info(site, "acme-other", {}, record=("acme_ns/other/__init__.py",))
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    eps = [ep for dist in metadata.distributions(path=[str(site)])
           for ep in dist.entry_points.select(group="gen")]
    assert discover(eps).clashes() == []


def test_the_docs_say_to_keep_off_gen_names():
    text = (DOCS / "plugins.md").read_text()
    assert "gen-*" in text and "gen_*" in text
    assert not re.search(r"\bgen[-_](mlpvae|mygan|pixels|scans|mytracker)\b", text), (
        "the docs' own examples keep off gen-* names")


# --- 13. the kit on a contested name ----------------------------------------------------------

@pytest.fixture
def contested(monkeypatch):
    """toy-density registered by the toy plugin and by a fork, both as entry points."""
    plugin_module(monkeypatch, "fork_plugin", gen_register_models=registers("toy-density"))
    eps = [entry_point("toy-plugin", "toy_plugin"), entry_point("fork", "fork_plugin")]
    installed = metadata.entry_points
    monkeypatch.setattr(metadata, "entry_points", lambda **selection: eps if selection == {
        "group": "gen"} else installed(**selection))
    monkeypatch.delenv("GEN_PLUGINS", raising=False)
    return discover()


class KitOnBare(ModelConformance):
    model = "toy-density"
    plugin_module = "toy_plugin"


class KitOnQualified(ModelConformance):
    model = "toy-plugin:toy-density"
    plugin_module = "toy_plugin"


@pytest.mark.parametrize("kit", [KitOnBare, KitOnQualified])
def test_the_kit_takes_a_contested_name_bare_or_qualified(monkeypatch, contested, kit):
    said = pytest.warns(UserWarning, match="also registered by plugin fork")
    with said if kit is KitOnBare else nullcontext():  # a bare name: picked by plugin_module
        info = find_model(contested, kit.model, kit.plugin_module)
    assert info.qualified == "toy-plugin:toy-density"
    kit().test_discovered_through_entry_point(monkeypatch)
    kit().test_default_spec_round_trips(info)


def test_the_kit_says_how_to_settle_a_contested_name_it_cannot(contested):
    with pytest.raises(pytest.fail.Exception,
                       match=r"registered by 2 plugins .*GEN_DISABLE_PLUGINS=fork,toy-plugin"):
        find_model(contested, "toy-density", "elsewhere")


# --- 14. every kit failure names its likely cause ---------------------------------------------

class IgnoresN(ToyDensity):
    @torch.no_grad()
    def sample(self, n, labels=None, generator=None):
        return super().sample(4, labels, generator)


class Grey(ToyDensity):
    def __init__(self, spec, data):
        super().__init__(spec, data)
        self.net = Logits((1, data.image_size, data.image_size))
        self.modules = {"net": self.net}
        self.optimizers = {"net": torch.optim.SGD(self.net.parameters(), lr=spec.lr)}

    def log_prob(self, x, y=None):
        return super().log_prob(x[:, :1], y)


class NoGradLogProb(ToyDensity):
    @torch.no_grad()
    def log_prob(self, x, y=None):
        return super().log_prob(x, y)


class CountsOutsideModules(ToyDensity):
    steps = 0

    def train_step(self, next_batch):
        self.steps += 1  # a plain attribute: not in the checkpoint
        images, _ = next_batch()
        loss = -self.log_prob(images).mean() * self.steps
        self.optimize("net", loss)
        return {"nll": loss.detach()}


class BatchStatistics(ToyDensity):
    """Normalises by the batch's spread, which one image does not have, and says nothing."""

    def train_step(self, next_batch):
        images, _ = next_batch()
        loss = -(self.log_prob(images) / images.std(0).mean().clamp(max=1)).mean()
        self.optimize("net", loss)
        return {"nll": loss.detach()}

    @property
    def min_batch_size(self):
        return 1


class NoLikelihood(ToyDensity):
    likelihood = None


class MissingDefault(ToyDensitySpec):
    width: int


class Kit(ModelConformance):
    model = "toy-density"
    plugin_module = "authors_plugin"


def third_party(monkeypatch, model=ToyDensity, spec="toy_plugin:ToyDensitySpec",
                name="toy-density"):
    """The model of a plugin module loaded through GEN_PLUGINS, as the kit finds it."""
    module = types.ModuleType("authors_models")
    module.Model, module.Spec = model, MissingDefault
    monkeypatch.setitem(sys.modules, "authors_models", module)
    plugin_module(monkeypatch, "authors_plugin",
                  gen_register_models=registers(name, spec, "authors_models:Model"))
    monkeypatch.setenv("GEN_PLUGINS", "authors_plugin")
    return find_model(discover(), name, "authors_plugin")


@pytest.mark.parametrize("model, check, message", [
    (IgnoresN, "test_samples_have_shape_and_range",
     r"sample\(5\) returned shape \(4, 1, 8, 8\), not \(5, 1, 8, 8\): sample\(n\) draws n"),
    (CountsOutsideModules, "test_resume_equals_uninterrupted_run",
     "differs between the resumed run and the uninterrupted one. Likely causes: state kept "
     "outside self.modules"),
    (Grey, "test_colour_step_and_samples", r"build the networks from DataInfo.channels"),
    (NoGradLogProb, "test_log_prob_contract", "don't decorate log_prob with @torch.no_grad"),
    (BatchStatistics, "test_the_smallest_batch_trains",
     "override the model's min_batch_size property"),
    (NoGradLogProb, "test_train_step_returns_scalar_tensors_by_name",
     "don't decorate log_prob with @torch.no_grad"),
])
def test_a_kit_failure_names_its_likely_cause(monkeypatch, tmp_path, gen_cache, model, check,
                                              message):
    info = third_party(monkeypatch, model)
    method = getattr(Kit(), check)
    wanted = inspect.signature(method).parameters  # the fixtures it takes
    arguments = {"info": info, "tmp_path": tmp_path / "check"}
    if "tiny_run" in wanted:
        arguments["tiny_run"] = train_tiny(info, tiny_spec(info, {}), tmp_path / "run")
    with pytest.raises(AssertionError, match=message):
        method(**{k: v for k, v in arguments.items() if k in wanted})


@pytest.mark.parametrize("spec, name, message", [
    ("authors_models:Spec", "toy-density",
     r"model.width: Field required\): every field of the spec class needs a default"),
    ("toy_plugin:ToyDensitySpec", "renamed",
     r"the default spec names model 'toy-density', but the model is registered as 'renamed': "
     r"give the spec class name: Literal\['renamed'\]"),
])
def test_a_spec_the_kit_refuses_says_what_to_fix(monkeypatch, spec, name, message):
    info = third_party(monkeypatch, spec=spec, name=name)
    with pytest.raises(AssertionError, match=message):
        Kit().test_default_spec_round_trips(info)


def test_log_prob_without_likelihood_is_warned_about(monkeypatch, gen_cache):
    info = third_party(monkeypatch, NoLikelihood)
    with pytest.warns(UserWarning, match="has log_prob but no likelihood: gen offers no nll"), \
            pytest.raises(pytest.skip.Exception):
        Kit().test_log_prob_contract(info)


def test_pytest_explains_the_kits_asserts():
    assert "@py_builtins" in vars(gen.testing.kit), "gen.testing.kit is assertion-rewritten"


# --- 15. kind, and GEN_PLUGINS naming an installed module -------------------------------------

def test_kind_is_documented_as_one_rule():
    text = (DOCS / "plugins.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `kind` |"))
    assert all(f"`{kind}`" in row for kind in DOCUMENTED_KINDS) and "label" in row, row
    assert "unknown `kind`" not in text, "an open label has no unknown values"


def test_gen_plugins_naming_an_installed_module_says_so(monkeypatch):
    import toy_plugin

    monkeypatch.setenv("GEN_PLUGINS", "toy_plugin")
    plugins = discover([entry_point("toy-plugin", "toy_plugin")])
    installed, again = plugins.records
    assert installed.ok and not again.ok
    assert again.error == (
        f"GEN_PLUGINS names module 'toy_plugin' ({toy_plugin.__file__}), which is installed "
        "and already loaded as plugin 'toy-plugin': drop it from GEN_PLUGINS, which is for "
        "modules that are not installed (to try a local copy, uninstall 'toy-plugin')")
    assert plugins.registry.get("toy-density").plugin == "toy-plugin"
