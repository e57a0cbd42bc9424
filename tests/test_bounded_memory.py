"""Memory is bounded by the work, not by `-n`: samples are drawn and written batch by batch, FID
keeps running sums, and what KID and precision/recall must hold is estimated and refused up
front. (The peak RSS of a large FID run is measured by bench/evaluate_memory.py.)"""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import gen
import gen.evaluation.quality as quality
from gen.cli.main import cli
from gen.evaluation.metrics.feature_distances import FrechetStream, frechet_distance
from gen.evaluation.metrics.precision_recall import K


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def density_run(toy_plugins, tmp_path):
    return gen.train("toy-density", overrides={"train.steps": 2, "train.device": "cpu"},
                     out=tmp_path / "run", progress=False)


def test_samples_are_drawn_and_written_one_batch_at_a_time(density_run, tmp_path, monkeypatch):
    model = density_run.model
    sizes = []
    real = type(model).sample
    monkeypatch.setattr(type(model), "sample",
                        lambda self, n, **kw: sizes.append(n) or real(self, n, **kw))
    result = invoke("sample", density_run.path, "-n", 20, "--batch-size", 7, "--seed", 5,
                    "--out", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    assert sizes == [7, 7, 6], "never more than one batch drawn at once"
    saved = np.load(tmp_path / "s.npz")
    assert saved["images"].shape == (20, 1, 8, 8) and saved["images"].dtype == np.uint8
    assert np.array_equal(saved["images"], density_run.sample(20, seed=5, batch_size=7).numpy())


def test_a_grid_too_large_for_one_png_is_refused_before_any_work(density_run):
    result = invoke("sample", density_run.path, "-n", 20_000)
    assert result.exit_code == 2
    assert "a grid of 20000 images, too many for one .png (at most 10000)" in result.output
    assert "--out FILE.npz" in result.output


def test_fid_from_running_sums_equals_fid_of_the_whole_set():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(300, 6, generator=g), torch.randn(500, 6, generator=g) + 0.3
    stream = FrechetStream(real)
    for batch in fake.split(64):
        stream.update(batch)
    assert stream.compute() == pytest.approx(frechet_distance(real, fake), rel=1e-9)


def scorer(n: int, dim: int = 32, n_real: int = 100) -> quality.QualityScorer:
    return quality.QualityScorer(extractor=None, real=torch.zeros(n_real, dim),
                                 real_labels=None, n=n)


def test_what_kid_and_precision_need_is_refused_up_front_with_the_largest_n(monkeypatch):
    monkeypatch.setattr(quality, "available_memory", lambda: 64 * 2**20)  # 64 MiB free
    with pytest.raises(gen.UsageError) as err:
        scorer(10**9).check(["fid", "kid", "precision"])
    message = str(err.value)
    assert "kid, precision keep the features of every image: -n 1000000000 needs about" in message
    largest = int(message.split("use -n ")[1].split()[0])
    scorer(largest).check(["kid", "precision"])  # the n it suggests fits ...
    with pytest.raises(gen.UsageError):
        scorer(largest + 1).check(["kid", "precision"])  # ... and is the largest that does
    scorer(10**9).check(["fid"])  # FID's running sums need no more for a larger n


def test_precision_with_too_few_images_is_refused_before_any_work(density_run, toy_plugins):
    toy_plugins.add_core()  # the lenet extractor
    result = invoke("evaluate", density_run.path, "--metrics", "precision", "-n", 2,
                    "--device", "cpu")
    assert result.exit_code == 2
    assert f"precision and recall need at least {K + 1} images" in result.output
    assert not any("evaluation" in m for m in density_run.metrics())
    result = invoke("train", "toy", "--out", density_run.path.parent / "other", "-q",
                    "--set", "train.eval_metric=precision", "--set", "train.eval_n=2",
                    "--set", "train.eval_every=2")
    assert result.exit_code == 2
    assert ("train.eval_n: precision needs at least 4 images (each one's 3 nearest neighbours)"
            in result.output)
    assert not (density_run.path.parent / "other").exists()


def test_the_training_minimum_matches_the_metric():
    """specs.py states the minimum without importing the metric (no torch there)."""
    from pydantic import ValidationError

    from gen import specs

    with pytest.raises(ValidationError, match="recall needs at least"):
        specs.TrainSpec(eval_metric="recall", eval_n=K)
    assert specs.TrainSpec(eval_metric="recall", eval_n=K + 1).eval_n == K + 1
