"""Feature extractors are plugins: the built-in ones come from gen-core's own plugin through the
`gen_register_extractors` hook, a third-party one is used like them, and the Inception weights
are checked before anything is computed with them."""

import hashlib
import json
import sys
import types
import urllib.error

import pytest
import torch
from click.testing import CliRunner

import gen
import gen.extractors.inception as inception
from gen.cli.main import cli
from gen.extractors.base import Extractor, ExtractorRequest, build_extractor
from gen.plugins import Plugins, discover
from gen.specs import DataSpec


class Pixels(Extractor):
    """A third-party extractor: the pixels themselves."""

    def __init__(self, request):
        super().__init__()
        self.num_features = request.channels * request.image_size**2
        self.weights_hash = "sha256:none"
        self.details = {"kind": "identity"}

    def forward(self, images):
        return images.flatten(1).float()


def extractor_plugin(monkeypatch, module_name, *names, path=None):
    module = types.ModuleType(module_name)
    module.Pixels = Pixels

    def gen_register_extractors(register):
        for name in names:
            register(name=name, summary="raw pixels", extractor=path or f"{module_name}:Pixels")

    module.gen_register_extractors = gen.hookimpl(gen_register_extractors)
    monkeypatch.setitem(sys.modules, module_name, module)
    return module


def test_gen_core_registers_the_builtin_extractors_like_any_plugin(monkeypatch):
    monkeypatch.delenv("GEN_PLUGINS", raising=False)
    record = discover().records[0]
    assert (record.name, record.ok, record.extractors) == ("gen-core", True,
                                                            ["inception", "lenet"])
    assert record.as_dict()["extractors"] == ["inception", "lenet"]


def test_a_third_party_extractor_is_used_by_gen_evaluate(toy_plugins, monkeypatch, tmp_path):
    toy_plugins.add(extractor_plugin(monkeypatch, "pixels_plugin", "pixels"), "pixels-plugin")
    run = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "toy", "--out", str(run), "-q", "--set",
                               "train.steps=2", "--set", "train.device=cpu"]).exit_code == 0
    result = runner.invoke(cli, ["evaluate", str(run), "--metrics", "fid", "--extractor",
                                 "pixels", "--n", "50", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)[0]  # stderr: a warning of n <= 64
    assert record["extractor"] == "pixels" and record["extractor_hash"] == "sha256:none"
    assert record["extractor_kind"] == "identity" and record["real_images"] == 50
    assert "extractors: pixels" in runner.invoke(cli, ["plugins"]).output


def test_bad_extractor_registrations_are_recorded_and_register_nothing(monkeypatch):
    plugins = Plugins()
    assert plugins.add(extractor_plugin(monkeypatch, "first", "pixels"), "first").ok
    bad_path = plugins.add(extractor_plugin(monkeypatch, "third", "x", path="nocolon"), "third")
    assert "'module:callable'" in bad_path.error

    class MissingField:
        @staticmethod
        @gen.hookimpl
        def gen_register_extractors(register):
            register(name="y", summary="no extractor path")

    assert "bad register() call" in plugins.add(MissingField(), "missing").error
    assert sorted(plugins.registry.extractors) == ["pixels"], "a broken plugin registers nothing"


def test_an_extractor_that_builds_no_module_is_a_plugin_error(monkeypatch):
    plugins = Plugins()
    module = extractor_plugin(monkeypatch, "lazy_plugin", "nothing",
                              path="lazy_plugin:build_nothing")
    module.build_nothing = lambda request: object()
    plugins.add(module, "lazy")
    with pytest.raises(gen.PluginError, match="must build a torch module with num_features"):
        build_extractor(plugins, "nothing", ExtractorRequest(DataSpec(), 1, 32))


def request(tmp_path, weights=None):
    return ExtractorRequest(DataSpec(), 1, 32, weights=weights, cache=tmp_path / "cache",
                            log=lambda message: None)


def test_missing_inception_weights_say_how_to_provide_them(tmp_path, monkeypatch):
    monkeypatch.delenv(inception.ENV, raising=False)
    with pytest.raises(inception.InceptionWeightsError) as err:
        inception.build(request(tmp_path, weights=str(tmp_path / "missing.pth")))
    message = str(err.value)
    assert f"not found at {tmp_path / 'missing.pth'} (from --extractor-weights)" in message
    assert inception.URL in message and "GEN_INCEPTION_WEIGHTS=PATH" in message
    assert str(tmp_path / "cache" / inception.FILENAME) in message

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(inception.urllib.request, "urlopen", offline)
    with pytest.raises(inception.InceptionWeightsError, match="downloading them failed"):
        inception.build(request(tmp_path))
    assert not (tmp_path / "cache" / inception.FILENAME).exists(), "no partial file is left"


def test_inception_weights_of_the_wrong_hash_are_refused(tmp_path, monkeypatch):
    wrong = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    wrong.write_bytes(b"not the weights")
    monkeypatch.setenv(inception.ENV, str(wrong))
    with pytest.raises(inception.InceptionWeightsError) as err:
        inception.build(request(tmp_path))
    digest = hashlib.sha256(b"not the weights").hexdigest()
    assert f"its sha256 is {digest}, expected one starting with 6726825d" in str(err.value)


def test_checked_weights_without_torch_fidelity_say_what_to_install(tmp_path, monkeypatch):
    # as if not installed (the test extra installs it for tests/test_crosscheck.py)
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", None)
    weights = tmp_path / "w.pth"
    torch.save({}, weights)
    monkeypatch.setattr(inception, "SHA256_PREFIX", hashlib.sha256(weights.read_bytes())
                        .hexdigest()[:8])
    with pytest.raises(gen.GenError, match="pip install torch-fidelity"):
        inception.build(request(tmp_path, weights=str(weights)))

