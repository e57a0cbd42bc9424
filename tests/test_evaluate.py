"""gen evaluate / encode / sample --reconstruct|--interpolate on toy density and VAE runs."""

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gen.cli.main import cli
from gen.data.datasets import load_dataset
from gen.data.loader import sequential_batches
from gen.evaluation.metrics.likelihood import negative_log_likelihood
from gen.evaluation.metrics.probe import linear_probe_accuracy
from gen.run.handle import load_run
from gen.specs import DataSpec


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


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
    one = json.loads(invoke("evaluate", str(run), "--json", "--batch-size", "1000").output)
    many = json.loads(invoke("evaluate", str(run), "--json", "--batch-size", "7").output)
    assert one[0]["images"] == many[0]["images"] == 1000
    assert math.isclose(one[0]["value"], many[0]["value"], rel_tol=1e-9)
    assert one[0]["estimator"] == "exact" and one[0]["split"] == "test"


def test_evaluation_is_recorded_in_the_run(trained):
    run = trained("toy-density")
    invoke("evaluate", str(run), "--limit", "50", "--seed", "3")
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 30
    assert {k: last["evaluation"][k] for k in ("metric", "split", "images", "seed", "step")} == {
        "metric": "nll", "split": "test", "images": 50, "seed": 3, "step": 30}


def test_vae_elbo_bounds_the_importance_weighted_nll(trained):
    run = trained("toy-vae", steps=100)
    records = json.loads(invoke("evaluate", str(run), "--metrics", "elbo,nll",
                                "--iw-samples", "64", "--json").output)
    elbo, nll = records
    assert elbo["estimator"].startswith("negative ELBO")
    assert nll["estimator"] == "importance-weighted, K=64"
    assert nll["value"] < elbo["value"], "the IW estimate tightens the bound"
    again = json.loads(invoke("evaluate", str(run), "--metrics", "elbo", "--json").output)
    assert again[0]["value"] == elbo["value"], "same seed, same sampled estimate"


def test_metrics_that_do_not_apply_are_clear_errors(trained):
    gan, density = trained("toy", steps=2), trained("toy-density", steps=2)
    result = invoke("evaluate", str(gan))
    assert result.exit_code == 1 and "'toy' has no likelihood" in result.output
    result = invoke("evaluate", str(density), "--metrics", "elbo")
    assert result.exit_code == 1 and "exact likelihood; use --metrics nll" in result.output
    result = invoke("evaluate", str(density), "--metrics", "fidd")
    assert result.exit_code == 2 and "unknown metric 'fidd'" in result.output
    result = invoke("encode", str(density), "--out", "z.npz")
    assert result.exit_code == 1 and "needs a latent-variable model" in result.output
    result = invoke("sample", str(gan), "--reconstruct")
    assert result.exit_code == 1 and "needs a latent-variable model" in result.output


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
