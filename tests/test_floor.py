"""The floor (`gen evaluate --floor`: the reference scored against itself at the same n) and the
warnings that say when a score is not what it seems: an FID at n <= the feature width, and a
score beside earlier ones of the same kind at another n.

Features come from the lenet extractor (512 features) on bundled MNIST at 16x16 (1,000 test
images), trained once per session; the toy GAN after 5 steps is a bad model.
"""

import json
import warnings

import pytest
from click.testing import CliRunner

import gen
from gen.cli.main import cli
from gen.data.datasets import load_dataset
from gen.errors import GenWarning
from gen.evaluation.comparability import warn_mixed_n
from gen.evaluation.metrics.feature_distances import frechet_distance, kernel_distance
from gen.evaluation.metrics.inception_score import inception_score
from gen.evaluation.metrics.precision_recall import precision_recall
from gen.evaluation.quality import reference_order
from gen.extractors.base import ExtractorRequest, build_extractor, extract, logits
from gen.plugins import Plugins
from gen.specs import DataSpec

SIZE = 16
TINY = ["--set", f"data.image_size={SIZE}", "--set", "train.device=cpu", "-q"]


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gen-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache, monkeypatch):
    monkeypatch.setenv("GEN_CACHE", str(cache))


@pytest.fixture(scope="session")
def extractor(cache):
    core = Plugins()
    assert core.add_core().ok
    request = ExtractorRequest(DataSpec(image_size=SIZE), channels=1, image_size=SIZE,
                               cache=cache / "extractors")
    return build_extractor(core, "lenet", request)


@pytest.fixture(scope="session")
def test_images():
    return load_dataset(DataSpec(image_size=SIZE, split="test")).images


@pytest.fixture
def run(toy_plugins, tmp_path):
    toy_plugins.add_core()
    out = tmp_path / "run"
    result = invoke("train", "toy", "--out", out, *TINY, "--set", "train.steps=5")
    assert result.exit_code == 0, result.output
    return out


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def evaluate(run, *args):
    result = invoke("evaluate", run, "--json", *args)
    assert result.exit_code == 0, result.output
    return {r["metric"]: r for r in json.loads(result.stdout)}, result.stderr


# --- the floor ---------------------------------------------------------------------------------


def test_the_floor_is_two_draws_of_the_reference_scored_against_each_other(run, extractor,
                                                                           test_images):
    scores, _ = evaluate(run, "--metrics", "fid,kid,precision,recall", "-n", 400, "--seed", 1,
                         "--floor")
    order = reference_order(1000, 1)
    first = extract(extractor, test_images[order[:400]])
    second = extract(extractor, test_images[order[400:800]])
    floors = {m: r["floor"] for m, r in scores.items()}
    assert all(f["n"] == 400 for f in floors.values())
    assert floors["fid"]["value"] == pytest.approx(frechet_distance(first, second), rel=1e-9)
    assert floors["kid"]["value"] == pytest.approx(kernel_distance(first, second, 1)[0])
    precision, recall = precision_recall(first, second)
    assert (floors["precision"]["value"], floors["recall"]["value"]) == (precision, recall)
    # what a perfect model would get, and a bad model does not
    assert 0 <= floors["fid"]["value"] < scores["fid"]["value"] / 5
    assert abs(floors["kid"]["value"]) < scores["kid"]["value"] / 5
    assert floors["precision"]["value"] > max(0.5, scores["precision"]["value"])
    assert floors["recall"]["value"] > max(0.5, scores["recall"]["value"])

    again, _ = evaluate(run, "--metrics", "fid", "-n", 400, "--seed", 1, "--floor")
    assert again["fid"]["floor"] == floors["fid"], "the same seed, the same floor"
    other, _ = evaluate(run, "--metrics", "fid", "-n", 400, "--seed", 2, "--floor")
    assert other["fid"]["floor"]["value"] != floors["fid"]["value"]
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["evaluation"]["floor"] == other["fid"]["floor"]
    with pytest.warns(GenWarning):  # n 400 <= 512 features, and n beside earlier n
        python = gen.load_run(run).evaluate("fid", n=400, seed=1, floor=True, record=False)
    assert python["fid"]["floor"] == floors["fid"]


def test_a_small_reference_is_halved_and_the_floor_says_its_n(run, extractor, test_images):
    scores, stderr = evaluate(run, "--metrics", "fid,is", "-n", 600, "--floor")
    assert scores["fid"]["floor"]["n"] == scores["is"]["floor"]["n"] == 500
    assert "warning: --floor: the reference holds 1000 images, fewer than two draws of -n " \
           "600: the floor compares two halves of 500 images" in " ".join(stderr.split())
    second = extract(extractor, test_images[reference_order(1000, 0)[500:]])
    assert scores["is"]["floor"]["value"] == pytest.approx(
        inception_score(logits(extractor, second))[0])
    assert scores["is"]["floor"]["value"] > scores["is"]["value"]  # the digits' own IS
    table = invoke("evaluate", run, "--metrics", "fid", "-n", 600, "--floor")
    assert table.exit_code == 0, table.output
    assert "floor" in table.stdout and "(n 500)" in table.stdout


def test_floor_without_reference_images_or_quality_metrics_is_refused(run, tmp_path):
    assert invoke("stats", "bundled-mnist", "--image-size", SIZE, "--out",
                  tmp_path / "s.npz").exit_code == 0
    metrics = (run / "metrics.jsonl").read_bytes()
    for args, message in [
        (["--metrics", "fid", "--reference-stats", tmp_path / "s.npz"],
         "--floor draws reference images twice, and --reference-stats holds none"),
        (["--metrics", "nll"], "--floor applies to fid, kid, precision, recall, is; nll has "
                               "none"),
    ]:
        result = invoke("evaluate", run, "--floor", *args)
        assert result.exit_code == 2 and message in result.output, result.output
        assert result.output.count("error:") == 1 and "Traceback" not in result.output
    assert (run / "metrics.jsonl").read_bytes() == metrics


# --- warnings ----------------------------------------------------------------------------------


def test_an_fid_at_n_up_to_the_feature_width_is_said_not_to_be_meaningful(run, tmp_path):
    _, stderr = evaluate(run, "--metrics", "fid", "-n", 512)
    assert "warning: fid: generated 512, reference 512 images in lenet's 512 feature " \
           "dimensions: at n <= 512 the covariance is rank-deficient and FID is not " \
           "meaningful; use -n 513 or more" in " ".join(stderr.split())
    _, stderr = evaluate(run, "--metrics", "fid", "-n", 513)
    assert "rank-deficient" not in stderr
    _, stderr = evaluate(run, "--metrics", "kid", "-n", 100)
    assert "rank-deficient" not in stderr, "KID fits no covariance"
    result = invoke("stats", "bundled-mnist", "--image-size", SIZE, "-n", 300, "--out",
                    tmp_path / "s.npz")
    assert result.exit_code == 0 and "warning: fid: reference 300 images" in result.stderr


def test_a_score_beside_earlier_ones_at_another_n_is_said_to_be_incomparable(run):
    _, stderr = evaluate(run, "--metrics", "fid,kid", "-n", 600)
    assert "not comparable" not in stderr
    _, stderr = evaluate(run, "--metrics", "fid,kid", "-n", 700)
    text = " ".join(stderr.split())
    assert "warning: fid at n 700 (real 700) beside earlier fid scores of this run at n 600 " \
           "(real 600), with the same extractor: scores at different n are not comparable " \
           "(fid depends on n); score with -n 600 to compare with the latest" in text
    assert "kid at n" not in text, "KID is unbiased"
    _, stderr = evaluate(run, "--metrics", "fid", "-n", 700)
    assert "at n 600 (real 600)" in stderr and "n 700 (real 700), " not in stderr


def _record(**changes):
    return {"metric": "fid", "extractor": "lenet", "extractor_hash": "sha256:aa",
            "fid_convention": "torch-fidelity", "space": "run", "generated_images": 600,
            "real_images": 600, **changes}


@pytest.mark.parametrize(("earlier", "warned"), [
    (_record(generated_images=500, real_images=500), True),
    (_record(generated_images=600, real_images=500), True),
    (_record(), False),
    (_record(generated_images=500, extractor_hash="sha256:bb"), False),
    (_record(generated_images=500, fid_convention="clean-fid"), False),
    (_record(generated_images=500, space="mnist-grey-28"), False),
    (_record(generated_images="500", metric="fid"), True),  # a hand-edited log: no crash
    (_record(metric="kid", generated_images=500), False),
])
def test_mixed_n_compares_only_scores_of_one_kind(earlier, warned):
    history = [{"step": 1, "loss": 0.5}, {"step": 2, "evaluation": earlier},
               {"step": 3, "evaluation": "damaged"}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_mixed_n(history, [_record()])
    assert bool(caught) == warned, [str(w.message) for w in caught]
