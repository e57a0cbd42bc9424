"""gen evaluate / encode / sample --reconstruct|--interpolate on toy density and VAE runs."""

import dataclasses
import json
import math
from typing import ClassVar, Literal

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from plugin_helpers import plugin_module
from toy_plugin.density import Logits

import gen
from gen.cli.main import cli
from gen.data.datasets import load_dataset
from gen.data.loader import sequential_batches
from gen.errors import UsageError
from gen.evaluation.evaluate import default_metrics
from gen.evaluation.metrics.likelihood import negative_log_likelihood
from gen.evaluation.metrics.probe import linear_probe_accuracy
from gen.handle import load_run
from gen.specs import DataSpec

NO_LIKELIHOOD = "needs log_prob and likelihood; 'toy' has no log_prob and no likelihood"


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


class ClassDensitySpec(gen.ModelSpec):
    name: Literal["toy-class-density"] = "toy-class-density"
    lr: float = 0.1
    data_defaults: ClassVar[dict] = {"image_size": 8, "limit": 256, "binarize": "static"}


class ClassDensity(gen.Model):
    """Independent Bernoulli pixels per class: a conditional model with an exact p(x|y)."""

    likelihood = "exact"
    conditional = True

    def __init__(self, spec, data):
        super().__init__(spec, data)
        self.net = Logits((data.num_classes, data.channels, data.image_size, data.image_size))
        self.modules = {"net": self.net}
        self.optimizers = {"net": torch.optim.SGD(self.net.parameters(), lr=spec.lr)}

    def log_prob(self, x, y=None):
        target = (x > 0).float()
        logits = self.net.logits[y]
        return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum((1, 2, 3))

    def train_step(self, next_batch):
        images, labels = next_batch()
        loss = -self.log_prob(images, labels).mean()
        self.optimize("net", loss)
        return {"nll": loss.detach()}

    def sample(self, n, labels=None, generator=None):
        labels = torch.arange(n) % self.data.num_classes if labels is None else labels
        return torch.bernoulli(torch.sigmoid(self.net.logits[labels]), generator=generator) * 2 - 1


@pytest.fixture
def class_density(toy_plugins, monkeypatch):
    """The toy plugins and a conditional density model, ``toy-class-density``."""

    def gen_register_models(register):
        register(name="toy-class-density", kind="autoregressive", conditional=True,
                 summary="Bernoulli pixels per class", spec="class_density:ClassDensitySpec",
                 model="class_density:ClassDensity")

    module = plugin_module(monkeypatch, "class_density", gen_register_models=gen_register_models)
    module.ClassDensitySpec, module.ClassDensity = ClassDensitySpec, ClassDensity
    assert toy_plugins.add(module, "class-density", "0").ok
    return toy_plugins


@pytest.fixture
def trained(toy_plugins, tmp_path):
    def train(name, steps=30):
        out = tmp_path / name
        result = invoke("train", name, "--out", str(out), "-q", "--set", f"train.steps={steps}",
                        "--set", "train.device=cpu")
        assert result.exit_code == 0, result.output
        return out

    return train


def test_nll_is_exact_per_image_and_the_denominator_counts_every_subpixel(trained):
    run = trained("toy-density")
    loaded = load_run(run, device="cpu")
    test = load_dataset(DataSpec(split="test", image_size=8, binarize="static"))
    record = negative_log_likelihood(loaded.model, sequential_batches(test, 1000, "cpu"))
    # By hand: independent Bernoulli pixels with the checkpoint's logits.
    logits = loaded.model.net.logits.detach().double()
    on = (test.images > 0).double()
    log_p = (on * torch.nn.functional.logsigmoid(logits)
             + (1 - on) * torch.nn.functional.logsigmoid(-logits)).sum((1, 2, 3))
    assert record["images"] == 1000
    assert math.isclose(record["value"], -log_p.mean().item(), rel_tol=1e-6)
    assert math.isclose(record["bits_per_dim"], record["value"] / (1 * 8 * 8 * math.log(2)))


def test_one_batch_and_many_batches_agree(trained):
    run = trained("toy-density")
    one = json.loads(invoke("evaluate", str(run), "--metrics", "nll", "--json",
                            "--batch-size", "1000").output)
    many = json.loads(invoke("evaluate", str(run), "--metrics", "nll", "--json",
                             "--batch-size", "7").output)
    assert one[0]["images"] == many[0]["images"] == 1000
    assert math.isclose(one[0]["value"], many[0]["value"], rel_tol=1e-9)
    assert one[0]["estimator"] == "exact" and one[0]["split"] == "test"
    assert (one[0]["conditional"], one[0]["quantity"]) == (False, "-log p(x)")


def test_a_conditional_nll_says_it_is_of_x_given_y(trained, class_density):
    """Each image is scored with its own label: the value is -log p(x|y), and the record, the
    printed table and metrics.jsonl say so."""
    run = trained("toy-class-density")
    [record] = json.loads(invoke("evaluate", str(run), "--metrics", "nll", "--json").output)
    assert (record["conditional"], record["quantity"]) == (True, "-log p(x|y)")
    test = load_dataset(DataSpec(split="test", image_size=8, binarize="static"))
    logits = load_run(run, device="cpu").model.net.logits.detach()[test.labels]
    on = (test.images > 0).float()
    by_hand = F.binary_cross_entropy_with_logits(logits, on, reduction="none").sum((1, 2, 3))
    assert math.isclose(record["value"], by_hand.double().mean().item(), rel_tol=1e-5)
    printed = invoke("evaluate", str(run), "--metrics", "nll").output
    assert "-log p(x|y)" in printed
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["evaluation"]["quantity"] == "-log p(x|y)"


def test_evaluation_is_recorded_in_the_run(trained):
    run = trained("toy-density")
    invoke("evaluate", str(run), "--metrics", "nll", "--limit", "50", "--seed", "3")
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 30
    assert {k: last["evaluation"][k] for k in ("metric", "split", "images", "seed", "step")} == {
        "metric": "nll", "split": "test", "images": 50, "seed": 3, "step": 30}


def test_vae_elbo_bounds_the_importance_weighted_nll(trained):
    run = trained("toy-vae", steps=100)
    records = json.loads(invoke("evaluate", str(run), "--metrics", "elbo,nll",
                                "--iw-samples", "64", "--json").stdout)  # stderr: the cost
    elbo, nll = records
    assert elbo["estimator"].startswith("negative ELBO")
    assert nll["estimator"] == "importance-weighted, K=64"
    assert nll["value"] < elbo["value"], "the IW estimate tightens the bound"
    again = json.loads(invoke("evaluate", str(run), "--metrics", "elbo", "--json").output)
    assert again[0]["value"] == elbo["value"], "same seed, same sampled estimate"


def test_metrics_that_do_not_apply_are_clear_errors(trained):
    gan, density = trained("toy", steps=2), trained("toy-density", steps=2)
    result = invoke("evaluate", str(gan), "--metrics", "nll")
    assert result.exit_code == 1 and NO_LIKELIHOOD in result.output
    result = invoke("evaluate", str(density), "--metrics", "elbo")
    assert result.exit_code == 1 and "exact likelihood; use --metrics nll" in result.output
    result = invoke("evaluate", str(density), "--metrics", "fidd")
    assert result.exit_code == 2 and "unknown metric 'fidd'" in result.output
    result = invoke("encode", str(density), "--out", "z.npz")
    assert result.exit_code == 1 and "needs encode; 'toy-density' has no encode" in result.output
    result = invoke("sample", str(gan), "--reconstruct")
    assert result.exit_code == 1
    assert "--reconstruct needs encode and decode; 'toy' has no encode and no decode" in (
        result.output)


def test_probe_separates_separable_classes_and_scores_a_vae(trained):
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 5, generator=g, dtype=torch.float64) * 10
    y = torch.arange(300) % 3
    x = centres[y] + torch.randn(300, 5, generator=g, dtype=torch.float64)
    assert linear_probe_accuracy(x[:200], y[:200], x[200:], y[200:]) == 1.0
    run = trained("toy-vae", steps=100)
    record = json.loads(invoke("evaluate", str(run), "--metrics", "probe", "--json").output)[0]
    assert record["train_images"] == 9000 and record["images"] == 1000
    assert record["value"] > 0.15, "a trained encoder beats chance (0.1)"


def test_encode_writes_posterior_means_and_labels(trained, tmp_path):
    run = trained("toy-vae")
    result = invoke("encode", str(run), "--split", "train", "--limit", "100",
                    "--out", str(tmp_path / "z.npz"))
    assert result.exit_code == 0, result.output
    arrays = np.load(tmp_path / "z.npz")
    assert arrays["z"].shape == (100, 3) and arrays["z"].dtype == np.float32
    assert arrays["labels"][:5].tolist() == [7, 2, 1, 0, 4]


def test_reconstruct_and_interpolate_grids(trained, tmp_path):
    run = trained("toy-vae")
    result = invoke("sample", str(run), "--reconstruct", "-n", "16",
                    "--out", str(tmp_path / "r.npz"))
    assert result.exit_code == 0 and "32 images (reconstruct)" in result.output
    assert np.load(tmp_path / "r.npz")["images"].shape == (32, 1, 8, 8)
    result = invoke("sample", str(run), "--interpolate", "-n", "3", "--out",
                    str(tmp_path / "i.npz"))
    assert result.exit_code == 0 and "30 images (interpolate)" in result.output
    rows = np.load(tmp_path / "i.npz")["images"].reshape(3, 10, 1, 8, 8)
    loaded = load_run(run, device="cpu")
    test = load_dataset(DataSpec(split="test", image_size=8, binarize="static"))
    from gen.latent import pick

    images, _ = pick(test, 6, 0, torch.device("cpu"))
    ends = loaded.model.decode(loaded.model.encode(images))
    first = ((ends[0] + 1) * 127.5).round().to(torch.uint8).numpy()
    assert np.array_equal(rows[0, 0], first), "each row starts at its first image's latent"
    result = invoke("sample", str(run), "--reconstruct", "--interpolate")
    assert result.exit_code == 2


# -- the metrics chosen when none are named -----------------------------------------------------


@pytest.mark.parametrize(("name", "likelihoods"), [
    ("toy", []), ("toy-density", ["nll"]), ("toy-vae", ["nll", "elbo"])])
def test_default_metrics_are_what_the_model_supports(trained, name, likelihoods):
    model = load_run(trained(name, steps=2), device="cpu").model
    assert default_metrics(model, 1000) == ["fid", "kid", "precision", "recall", *likelihoods]
    assert default_metrics(model, 3) == ["fid", "kid", *likelihoods], "k + 1 images for p/r"
    assert default_metrics(model, 1000, images=False) == ["fid", *likelihoods], \
        "against reference statistics (no images) fid alone of the quality metrics"


@pytest.mark.parametrize(("name", "likelihoods"), [("toy-density", ["nll"]), ("toy", None)])
def test_unlabelled_data_leaves_out_what_lenet_cannot_score(trained, name, likelihoods):
    """lenet trains on the run's labels: on unlabelled data a density model is scored on its
    likelihood alone, and a GAN is told how to get a score, by default; another extractor or
    a common space keeps the quality metrics."""
    model = load_run(trained(name, steps=2), device="cpu").model
    model.data = dataclasses.replace(model.data, num_classes=None)
    if likelihoods is None:
        with pytest.raises(UsageError, match="--extractor inception or --space mnist-grey-28"):
            default_metrics(model, 1000)
    else:
        assert default_metrics(model, 1000) == likelihoods
    assert default_metrics(model, 3, extractor="inception")[:2] == ["fid", "kid"]
    assert default_metrics(model, 3, space="mnist-grey-28")[:2] == ["fid", "kid"]


@pytest.fixture
def quality_cache(toy_plugins, tmp_path_factory, monkeypatch):
    """gen-core's extractors beside the toy models, with lenet's weights in a throwaway cache."""
    toy_plugins.add_core()
    monkeypatch.setenv("GEN_CACHE", str(tmp_path_factory.mktemp("gen-cache")))


@pytest.mark.parametrize(("name", "expected"), [
    ("toy", ["fid", "kid", "precision", "recall"]),
    ("toy-density", ["fid", "kid", "precision", "recall", "nll"])])
def test_evaluate_without_metrics_scores_what_the_model_supports(trained, quality_cache, name,
                                                                 expected):
    """A GAN run is no longer an error (nll was the default); the choice is announced on
    stderr, so --json output stays JSON."""
    result = CliRunner().invoke(cli, ["evaluate", str(trained(name, steps=5)), "--json",
                                      "-n", "50"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [r["metric"] for r in json.loads(result.stdout)] == expected
    assert f"metrics: {', '.join(expected)} (all that {name} supports" in result.stderr
