"""Data sets from plugins (the `gen_register_datasets` hook): listed, validated, trained on,
sampled and evaluated, and a builder that breaks the contract (tests/dataset_plugin.py) is an
error naming the data set, its plugin and the item, before any step and without a traceback."""

import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gen.cli.main import cli

CORE_DATASETS = {"bundled-mnist", "mnist", "fashion-mnist", "cifar10", "image-folder", "npz",
                 "svhn", "stl10", "celeba"}
BAD = ["bad-import", "bad-raises", "bad-notdataset", "bad-type", "bad-list", "bad-dtype",
       "bad-shape", "bad-channels", "bad-label"]
TRAIN = ["train", "toy", "-q", "--set", "train.device=cpu", "--set", "train.batch_size=8",
         "--set", "train.num_samples=4", "--set", "train.log_every=1"]


@pytest.fixture(autouse=True)
def cache(gen_cache):
    """$GEN_CACHE in tmp_path (the user's own cache untouched)."""
    return gen_cache


@pytest.fixture
def plugins(toy_plugins):
    """The core, the toy models and the test data sets, as the CLI's default plugin set."""
    import dataset_plugin

    assert toy_plugins.add(dataset_plugin, "dataset_plugin", "local").ok
    return toy_plugins


@pytest.fixture
def env(toy_env, cache):
    """A `gen` subprocess's environment: the data set plugin and the toy models."""
    return {**toy_env, "GEN_PLUGINS": "dataset_plugin,toy_plugin", "GEN_CACHE": str(cache)}


@pytest.fixture
def as_gen_plugins(monkeypatch):
    """In this process, the plugin set a `gen` process with `env` loads: the core's, then the
    modules of $GEN_PLUGINS under their module names (a run records its model's plugin)."""
    import gen.plugins

    plugins = gen.plugins.Plugins()
    plugins.add_core()
    for module in ("dataset_plugin", "toy_plugin"):
        assert plugins.add_module(module).ok
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    return plugins


def gen_process(env, *args):
    return subprocess.run([sys.executable, "-m", "gen", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def train(out, *sets, model_args=TRAIN):
    return invoke(*model_args, "--out", out, *(a for s in sets for a in ("--set", s)))


# -- listed through a real `gen` process ----------------------------------------------------------


def test_list_datasets_shows_the_plugins_and_the_cores(env):
    out = gen_process(env, "list-datasets", "--json")
    assert out.returncode == 0, out.stderr
    listed = {d["name"]: d for d in json.loads(out.stdout)}
    checker = listed["checker"]
    assert checker["plugin"] == "dataset_plugin" and checker["version"] == "local"
    assert checker["options"] is True and checker["labelled"] is True
    assert listed["bad-raises"]["options"] is False and listed["bad-raises"]["labelled"] is None
    assert {name for name, d in listed.items() if d["plugin"] == "gen-core"} == CORE_DATASETS
    assert set(listed) == CORE_DATASETS | {"checker", *BAD}
    assert listed["image-folder"]["options"] is True and listed["mnist"]["options"] is False
    assert "warning" not in out.stderr

    table = gen_process(env, "list-datasets")
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:] if line.strip()}
    assert set(rows) == CORE_DATASETS | {"checker", *BAD}
    assert "dataset_plugin local" in rows["checker"] and "Checkerboards" in rows["checker"]
    assert all("gen-core" in rows[name] for name in CORE_DATASETS)
    assert table.stdout.splitlines()[0].split() == ["name", "plugin", "labelled", "options",
                                                    "summary"]


def test_checker_trains_through_gen_then_samples_and_evaluates(env, as_gen_plugins, tmp_path,
                                                               cache):
    """Trained by a real `gen` process that loads the plugin from $GEN_PLUGINS; sampled and
    evaluated in this one (the same commands, without starting torch twice more)."""
    run = tmp_path / "run"
    out = gen_process(env, *TRAIN, "--out", str(run), "--set", "train.steps=3",
                      "--set", "data.dataset=checker", "--set", "data.options.count=32")
    assert out.returncode == 0, out.stderr
    assert "toy on checker (32 images, 3x8x8)" in out.stderr and "Traceback" not in out.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["data"]["classes"] == ["red", "blue"] and info["data"]["num_classes"] == 2
    spec = json.loads((run / "spec.json").read_text())
    assert spec["data"]["options"] == {"count": 32}

    drawn = invoke("sample", run, "-n", "4", "--out", tmp_path / "s.npz", "--device", "cpu")
    assert drawn.exit_code == 0, drawn.output
    import numpy as np

    assert np.load(tmp_path / "s.npz")["images"].shape == (4, 3, 8, 8)

    scored = invoke("evaluate", run, "--metrics", "fid", "-n", "10", "--json", "--device", "cpu")
    assert scored.exit_code == 0, scored.output
    [record] = json.loads(scored.stdout)
    assert record["metric"] == "fid" and record["real_images"] == 8  # the test split: 32 // 4
    assert record["reference_data"]["dataset"] == "checker"
    assert "lenet: trained on 32 checker images" in scored.stderr
    assert any((cache / "extractors" / "lenet").iterdir()), "lenet's weights under $GEN_CACHE"


def test_labels_by_class_name_on_a_conditional_model(plugins, tmp_path):
    """gen-gan's cgan (conditional), tiny, on checker: --labels takes the recorded names."""
    import gen_gan

    assert plugins.add(gen_gan, "gen-gan", "0").ok
    run = tmp_path / "cgan"
    cgan = ["train", "cgan", "-q", "--set", "train.device=cpu", "--set", "train.batch_size=8",
            "--set", "train.num_samples=4"]
    result = train(run, "train.steps=2", "data.dataset=checker", "data.image_size=8",
                   "model.g_features=4", "model.d_features=4", "model.latent_dim=4",
                   model_args=cgan)
    assert result.exit_code == 0, result.output
    drawn = invoke("sample", run, "--labels", "blue,red,1", "-n", "6",
                   "--out", tmp_path / "s.npz", "--device", "cpu")
    assert drawn.exit_code == 0, drawn.output
    assert "classes: 1 blue, 0 red" in drawn.stderr
    import numpy as np

    assert np.load(tmp_path / "s.npz")["labels"].tolist() == [1, 0, 1, 1, 0, 1]
    wrong = invoke("sample", run, "--labels", "green", "--device", "cpu")
    assert wrong.exit_code == 2 and "class names (red, blue)" in wrong.stderr


# -- data.dataset and data.options, checked with the spec --------------------------------------


@pytest.mark.parametrize(("sets", "where"), [
    (["data.options.cont=3"], "data.options.cont: Extra inputs are not permitted"),
    (["data.options.count=many"], "data.options.count: Input should be a valid integer"),
    (["data.options.count=0"], "data.options.count: Input should be greater than 0"),
])
def test_bad_options_name_the_field(plugins, tmp_path, sets, where):
    out = tmp_path / "run"
    result = train(out, "data.dataset=checker", *sets)
    assert result.exit_code == 2, result.output
    assert where in result.stderr and "Traceback" not in result.output
    assert not out.exists()


def test_options_of_a_data_set_that_takes_none(plugins, tmp_path):
    for name in ("bad-raises", "bundled-mnist"):
        result = train(tmp_path / "run", f"data.dataset={name}", "data.options.count=3")
        assert result.exit_code == 2, result.output
        assert f"data.options: data set {name!r} takes no options (got count)" in result.stderr
    result = train(tmp_path / "run", "data.dataset=image-folder", f"data.root={tmp_path}",
                   "data.options.crop=zoom")
    assert result.exit_code == 2 and "data.options.crop: Input should be" in result.stderr
    assert not (tmp_path / "run").exists()


def test_spec_shows_the_data_sets_default_options(plugins):
    result = invoke("spec", "toy", "--set", "data.dataset=checker")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data"]["options"] == {"count": 48}


def test_unknown_data_set_says_did_you_mean(plugins, tmp_path):
    result = train(tmp_path / "run", "data.dataset=checkr")
    assert result.exit_code == 2
    assert "data.dataset: unknown data set 'checkr'. Did you mean 'checker'?" in result.stderr
    assert "Known data sets:" in result.stderr and "bundled-mnist" in result.stderr
    result = train(tmp_path / "run", "data.dataset=gen-core:checker")
    assert result.exit_code == 2 and "unknown data set 'gen-core:checker'" in result.stderr
    assert not (tmp_path / "run").exists()


def test_plugin_qualified_data_set_name(plugins, tmp_path):
    run = tmp_path / "run"
    result = train(run, "data.dataset=dataset_plugin:checker", "train.steps=2",
                   "data.options.count=16", "data.workers=0")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "run.json").read_text())["data"]["classes"] == ["red", "blue"]
    spec = invoke("spec", "toy", "--set", "data.dataset=gen-core:bundled-mnist")
    assert spec.exit_code == 0, spec.output


def test_qualified_image_folder_still_needs_a_root(plugins, tmp_path):
    """data.root is required for image-folder however it is named: `gen-core:image-folder`
    is the same data set, so the same spec error (exit 2), not a builder's TypeError."""
    for name in ("image-folder", "gen-core:image-folder"):
        result = train(tmp_path / "run", f"data.dataset={name}", "train.steps=1")
        assert result.exit_code == 2, (name, result.stderr)
        assert "data.root: image-folder needs data.root" in result.stderr, result.stderr


# -- a builder that breaks the contract ---------------------------------------------------------

PROBLEMS = {
    "bad-import": "cannot import data set 'bad-import' from 'dataset_plugin_no_such_module:"
                  "build': ModuleNotFoundError",
    "bad-raises": "its builder dataset_plugin:build_raises raised RuntimeError: the checker "
                  "factory is on fire",
    "bad-notdataset": "its builder returned int, not a dataset",
    "bad-type": "item 3 (bad-type #3): its image is ndarray; expected a torch uint8 tensor",
    "bad-list": "item 3 (bad-list #3): its image is list; expected a torch uint8 tensor",
    "bad-dtype": "item 3 (bad-dtype #3): its image has dtype torch.float32; expected torch.uint8",
    "bad-shape": "item 3 (bad-shape #3): its image has shape (8, 8); expected (C, H, W)",
    "bad-channels": "item 3 (bad-channels #3): its image has shape (4, 8, 8); expected (C, H, W)",
    "bad-label": "item 3 (bad-label #3): its label is 2, outside 0..1 (num_classes 2)",
}


@pytest.mark.parametrize("storage, workers", [("memory", 2), ("stream", 0)])
@pytest.mark.parametrize("name", BAD)
def test_a_bad_data_set_is_named_before_any_step(plugins, tmp_path, cache, name, storage,
                                                 workers):
    run = tmp_path / "run"
    result = train(run, f"data.dataset={name}", "train.steps=2", f"data.storage={storage}",
                   f"data.workers={workers}", "train.batch_size=4")
    assert result.exit_code == 1, result.output
    error = result.stderr
    assert f"error: data set {name!r} (plugin 'dataset_plugin'): " in error, error
    assert PROBLEMS[name] in error, error
    assert "Traceback" not in result.output
    assert not run.exists(), "the run folder is never made"
    leftovers = [p for p in (cache / "data").rglob("*") if p.is_file()]
    assert leftovers == [], "no partial decoded cache is left behind"


@pytest.mark.parametrize(("kind", "problem"), [("float", "dtype torch.float32"),
                                             ("four-channels", "shape (4, 8, 8)")])
def test_pre_decoded_tensor_items_are_checked_like_any_item(plugins, kind, problem):
    """A builder may return the core's `TensorItems` (images decoded already, converted in one
    vectorised pass): its images are held to the same contract as item-by-item ones."""
    import torch

    from gen.data.decode import decode
    from gen.data.source import Source
    from gen.data.sources.tensors import TensorItems
    from gen.errors import DataError
    from gen.specs import DataSpec

    images = (torch.rand(8, 3, 8, 8) if kind == "float"
              else torch.zeros(8, 4, 8, 8, dtype=torch.uint8))
    info = plugins.registry.get_dataset("checker")
    source = Source(info, TensorItems(images, torch.zeros(8, dtype=torch.long), 2), 8, 2, None,
                    None, "center")
    with pytest.raises(DataError, match=r"data set 'checker' \(plugin 'dataset_plugin'\): "
                       r"item 0.*" + re.escape(problem)):
        list(decode(source, DataSpec(image_size=8)))
