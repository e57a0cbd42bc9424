"""Sample quality: FID, KID and precision/recall behave as they must on real data and noise,
`gen evaluate` records them with their provenance, and evaluation during training keeps the best
checkpoint without changing what is trained.

Features come from the lenet extractor on bundled MNIST at 16x16, trained once per test session
into a temporary GEN_CACHE (a few seconds on a CPU).
"""

import json
import math

import pytest
import torch
from click.testing import CliRunner

import gen.extractors.lenet as lenet
from gen.cli.main import cli
from gen.data.datasets import load_dataset
from gen.data.info import DataInfo
from gen.evaluation.metrics.feature_distances import frechet_distance, kernel_distance
from gen.evaluation.metrics.precision_recall import precision_recall
from gen.evaluation.quality import QualityScorer
from gen.extractors.base import ExtractorRequest, build_extractor, extract
from gen.plugins import Plugins
from gen.run.checkpoints import load_checkpoint
from gen.sampling import batch_labels
from gen.specs import DataSpec

NO_LIKELIHOOD = "needs log_prob and likelihood; 'toy' has no log_prob and no likelihood"

SIZE = 16
DATA = DataSpec(image_size=SIZE)
TINY = ["--set", f"data.image_size={SIZE}", "--set", "train.device=cpu", "-q"]


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gen-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache, monkeypatch):
    monkeypatch.setenv("GEN_CACHE", str(cache))


@pytest.fixture(scope="session")
def core():
    plugins = Plugins()
    assert plugins.add_core().ok
    return plugins


@pytest.fixture(scope="session")
def extractor(core, cache):
    request = ExtractorRequest(DATA, channels=1, image_size=SIZE, cache=cache / "extractors")
    return build_extractor(core, "lenet", request)


@pytest.fixture(scope="session")
def features(extractor):
    """Features of the two interleaved halves of the test part (500 images each, the same
    distribution) and of 1,000 images of uniform noise."""
    test = load_dataset(DataSpec(image_size=SIZE, split="test"))
    noise = torch.randint(0, 256, (1000, 1, SIZE, SIZE), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    return {"a": extract(extractor, test.images[0::2]), "b": extract(extractor, test.images[1::2]),
            "noise": extract(extractor, noise)}


@pytest.fixture
def quality_plugins(toy_plugins):
    """The toy models and gen-core's extractors, as the CLI's plugin set."""
    toy_plugins.add_core()
    return toy_plugins


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def train(tmp_path, name, *sets, model="toy"):
    out = tmp_path / name
    args = [a for s in sets for a in ("--set", s)]
    result = invoke("train", model, "--out", str(out), *TINY, *args)
    assert result.exit_code == 0, result.output
    return out


def evaluate_json(run, *args):
    result = invoke("evaluate", str(run), "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # stderr may say that an extractor was trained


# --- the metrics on real data and noise --------------------------------------------------------


def test_fid_is_small_between_real_sets_large_for_noise_and_symmetric(features):
    a, b, noise = features["a"], features["b"], features["noise"]
    real = torch.cat([a, b])
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    same, other = frechet_distance(a, b), frechet_distance(real, noise)
    assert same < 0.1 * other, (same, other)
    assert frechet_distance(b, a) == pytest.approx(same, rel=1e-6)
    assert frechet_distance(noise, real) == pytest.approx(other, rel=1e-6)


def test_kid_is_unbiased(features):
    """The unbiased MMD estimate of two samples of one distribution is zero on average (so it
    can be negative); the biased one would stay well above zero."""
    real = torch.cat([features["a"], features["b"]])
    noise_kid = kernel_distance(real, features["noise"])[0]
    values = []
    for seed in range(3):
        order = torch.randperm(1000, generator=torch.Generator().manual_seed(seed))
        values.append(kernel_distance(real[order[:500]], real[order[500:]], seed)[0])
    assert abs(sum(values) / 3) < 0.002 * noise_kid, (values, noise_kid)
    assert kernel_distance(real, features["noise"], seed=1)[2] == (1, 1000)
    subsampled = kernel_distance(real, features["b"], seed=5)
    assert subsampled[2] == (100, 500) and subsampled[1] > 0
    assert subsampled == kernel_distance(real, features["b"], seed=5), "subsets from the seed"


def test_precision_and_recall_are_high_for_real_sets_and_low_for_noise(features):
    real = torch.cat([features["a"], features["b"]])
    precision, recall = precision_recall(features["a"], features["b"])
    assert precision > 0.8 and recall > 0.8, (precision, recall)
    precision, recall = precision_recall(real, features["noise"])
    assert precision < 0.05 and recall < 0.05, (precision, recall)


def test_precision_recall_by_hand():
    """Real points 0, 1, ..., 9 on a line: the balls of their 3rd nearest neighbours have
    radius 3 at the ends and 2 inside, so the real manifold is [-3, 12]."""
    real = torch.arange(10.0).unsqueeze(1)
    precision, _ = precision_recall(real, torch.tensor([[4.5], [50.0], [4.0], [-2.5]]))
    assert precision == 0.75  # 4.5, 4.0 and -2.5 (within 3 of 0) are inside; 50 is not
    precision, recall = precision_recall(real, real + 0.5)
    assert precision == 1.0 and recall == 1.0


# --- the lenet extractor ------------------------------------------------------------------------


def test_lenet_is_cached_with_its_accuracy_and_reused(extractor, core, cache, monkeypatch):
    assert extractor.num_features == 512 and extractor.details["test_accuracy"] > 0.9
    [folder] = (cache / "extractors" / "lenet").iterdir()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["test_accuracy"] == extractor.details["test_accuracy"]
    assert meta["weights_sha256"] == extractor.weights_hash
    assert folder.name.startswith(f"bundled-mnist-{SIZE}px-1ch-")

    def no_training(*args):
        raise AssertionError("the cached network was trained again")

    monkeypatch.setattr(lenet, "_train", no_training)
    request = ExtractorRequest(DATA, channels=1, image_size=SIZE, cache=cache / "extractors")
    again = build_extractor(core, "lenet", request)
    assert again.weights_hash == extractor.weights_hash


# --- gen evaluate ------------------------------------------------------------------------------


def test_evaluate_records_what_was_measured_and_how(quality_plugins, tmp_path, extractor):
    run = train(tmp_path, "toy", "train.steps=20")
    records = evaluate_json(run, "--metrics", "fid,kid,precision,recall", "--n", "400",
                            "--seed", "3")
    assert [r["metric"] for r in records] == ["fid", "kid", "precision", "recall"]
    for r in records:
        assert r["extractor"] == "lenet" and r["extractor_hash"] == extractor.weights_hash
        assert r["extractor_test_accuracy"] == extractor.details["test_accuracy"]
        assert (r["real_images"], r["generated_images"]) == (400, 400)
        assert (r["split"], r["step"], r["seed"]) == ("test", 20, 3)
        assert math.isfinite(r["value"])
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["evaluation"] for e in logged[-4:]] == records
    again = evaluate_json(run, "--metrics", "fid", "--n", "400", "--seed", "3")
    assert again[0]["value"] == records[0]["value"], "same seed, same images, same score"
    capped = evaluate_json(run, "--metrics", "fid", "--n", "1500")[0]
    assert (capped["real_images"], capped["generated_images"]) == (1000, 1500)


def test_evaluate_against_a_folder_of_images(quality_plugins, tmp_path):
    from PIL import Image

    test = load_dataset(DataSpec(image_size=28, split="test"))
    folder = tmp_path / "reference"
    for digit in range(10):
        (folder / str(digit)).mkdir(parents=True)
    for i in range(60):
        image = Image.fromarray(test.images[i, 0].numpy())
        image.save(folder / str(int(test.labels[i])) / f"{i}.png")
    run = train(tmp_path, "toy", "train.steps=5")
    record = evaluate_json(run, "--metrics", "fid", "--reference", str(folder), "--n", "100")[0]
    assert (record["real_images"], record["generated_images"]) == (60, 100)
    assert record["split"] == str(folder.resolve())


def test_unknown_extractor_and_missing_inception_weights_are_clear_errors(
        quality_plugins, tmp_path, monkeypatch):
    run = train(tmp_path, "toy", "train.steps=2")
    result = invoke("evaluate", str(run), "--metrics", "fid", "--extractor", "incepton")
    assert result.exit_code == 2
    assert "unknown feature extractor 'incepton'. Did you mean 'inception'?" in result.output
    assert "Known extractors: inception, lenet." in result.output
    monkeypatch.setenv("GEN_INCEPTION_WEIGHTS", str(tmp_path / "nowhere.pth"))
    result = invoke("evaluate", str(run), "--metrics", "fid", "--extractor", "inception")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Inception weights not found at {tmp_path / 'nowhere.pth'}" in result.output
    assert "--extractor-weights PATH" in result.output


def test_conditional_models_get_the_reference_class_proportions():
    class Conditional:
        conditional = True
        data = DataInfo("x", 1, 8, num_classes=10, num_images=0)

    def drawn(labels):  # the labels of 10 images, drawn in batches of 3 as `score` does
        return torch.cat([batch_labels(Conditional(), labels, start, min(3, 10 - start))
                          for start in range(0, 10, 3)]).tolist()

    scorer = QualityScorer(extractor=None, real=torch.zeros(4, 2),
                           real_labels=torch.tensor([3, 3, 3, 7]), n=10)
    assert drawn(scorer.labels_for(Conditional())) == [3, 3, 3, 7, 3, 3, 3, 7, 3, 3]
    scorer.real_labels = None
    assert drawn(scorer.labels_for(Conditional())) == list(range(10))


# --- during training ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["fid", "precision"])
def test_training_logs_scores_and_keeps_the_best_checkpoint(quality_plugins, tmp_path, metric):
    run = train(tmp_path, "run", "train.steps=40", "train.eval_every=10", "train.eval_n=300",
                f"train.eval_metric={metric}", "train.checkpoint_every=20")
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scores = {e["step"]: e["evaluation"]["value"] for e in logged if "evaluation" in e}
    assert list(scores) == [10, 20, 30, 40]
    assert all(e[f"eval_{metric}"] == e["evaluation"]["value"] for e in logged if "evaluation" in e)
    pick = min if metric == "fid" else max
    best_step = pick(scores, key=scores.get)
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["step"] == best_step and best["best"]["value"] == scores[best_step]
    assert best["best"]["metric"] == metric and best["best"]["extractor"] == "lenet"
    result = invoke("sample", str(run), "--checkpoint", "best", "-n", "4")
    assert result.exit_code == 0 and f"from step {best_step}" in result.output
    rescored = evaluate_json(run, "--checkpoint", "best", "--metrics", metric, "--n", "300")[0]
    assert rescored["step"] == best_step
    assert rescored["value"] == pytest.approx(scores[best_step], rel=1e-9), "the same weights"


def weights(run):
    state = load_checkpoint(run / "checkpoints" / "latest.pt")["state"]["modules"]
    return {f"{m}.{k}": t for m, s in state.items() for k, t in s.items()}


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def test_evaluation_does_not_change_training_and_resume_still_equals_one_go(
        quality_plugins, tmp_path):
    common = ["train.eval_n=200", "train.log_every=1"]
    evaluated = train(tmp_path, "evaluated", "train.steps=6", "train.eval_every=2", *common)
    plain = train(tmp_path, "plain", "train.steps=6", *common)
    assert_same_weights(evaluated, plain)  # the toy critic's dropout draws from the global RNG
    resumed = train(tmp_path, "resumed", "train.steps=3", "train.eval_every=2", *common)
    result = invoke("train", "toy", "--out", str(resumed), "--resume", "-q",
                    "--set", "train.steps=6")
    assert result.exit_code == 0, result.output
    assert_same_weights(evaluated, resumed)
    best_a = load_checkpoint(evaluated / "checkpoints" / "best.pt")
    best_b = load_checkpoint(resumed / "checkpoints" / "best.pt")
    assert best_a["best"] == best_b["best"]


def test_a_sampled_estimator_during_training_leaves_the_rng_alone(quality_plugins, tmp_path):
    """The ELBO draws z from the global RNG (and evaluation reseeds it): still no effect."""
    common = ["train.steps=6", "train.log_every=1"]
    evaluated = train(tmp_path, "evaluated", *common, "train.eval_every=2",
                      "train.eval_metric=elbo", model="toy-vae")
    assert_same_weights(evaluated, train(tmp_path, "plain", *common, model="toy-vae"))
    best = load_checkpoint(evaluated / "checkpoints" / "best.pt")["best"]
    assert best["metric"] == "elbo" and best["step"] in (2, 4, 6)


def test_a_best_checkpoint_from_steps_done_again_is_dropped_on_resume(quality_plugins, tmp_path):
    run = train(tmp_path, "run", "train.steps=4", "train.eval_every=4", "train.eval_n=200",
                "train.checkpoint_every=2")
    (run / "checkpoints" / "latest.pt").unlink()  # as if killed after step 4's evaluation
    (run / "checkpoints" / "step-000004.pt").rename(run / "checkpoints" / "gone")
    (run / "checkpoints" / "latest.pt").hardlink_to(run / "checkpoints" / "step-000002.pt")
    result = invoke("train", "toy", "--out", str(run), "--resume", "-q",
                    "--set", "train.steps=3")
    assert result.exit_code == 0, result.output
    assert not (run / "checkpoints" / "best.pt").exists()


def test_eval_metric_that_does_not_apply_fails_before_training(quality_plugins, tmp_path):
    result = invoke("train", "toy", "--out", str(tmp_path / "run"), *TINY,
                    "--set", "train.eval_every=5", "--set", "train.eval_metric=nll")
    assert result.exit_code == 1
    assert "train.eval_metric=nll " + NO_LIKELIHOOD in result.output
    assert not (tmp_path / "run" / "checkpoints" / "latest.pt").exists()
    result = invoke("sample", str(train(tmp_path, "plain", "train.steps=2")), "--checkpoint",
                    "best")
    assert result.exit_code == 1 and "kept by runs trained with train.eval_every" in result.output


# --- one space for every model -----------------------------------------------------------------


def test_conversion_resizes_and_converts_channels_as_the_data_loader_does():
    import torchvision.transforms.v2.functional as TF

    from gen.evaluation.quality import Conversion

    g = torch.Generator().manual_seed(0)
    grey32 = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8, generator=g)
    down = Conversion.between(DataInfo("x", 1, 32, None, 0), (1, 28))
    assert torch.equal(down(grey32), TF.resize(grey32, [28, 28], antialias=True))
    assert down.describe() == "1x32x32 -> 1x28x28: antialiased bilinear resize"
    rgb = torch.randint(0, 256, (2, 3, 28, 28), dtype=torch.uint8, generator=g)
    to_grey = Conversion.between(DataInfo("x", 3, 28, None, 0), (1, 28))
    luma = (rgb.float() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, True)
    assert torch.equal(to_grey(rgb), luma.round().to(torch.uint8))
    assert to_grey.describe() == "3x28x28 -> 1x28x28: RGB to grey (ITU-R 601 luma)"
    binary = (torch.rand(4, 1, 28, 28, generator=g) < 0.3).to(torch.uint8) * 255
    same = Conversion.between(DataInfo("x", 1, 28, None, 0, binary=True), (1, 28))
    assert same(binary) is binary and same.describe() == "none", "binary draws stay binary"


SPACE = "mnist-grey-28"


def test_every_model_is_scored_in_one_space(quality_plugins, tmp_path, core, cache):
    """A 16x16 grey GAN-like run and a binarised 16x16 density run, scored in the grey 28x28
    MNIST space: one extractor (the one built for that data), one reference set, and each
    record says how its samples were converted."""
    request = ExtractorRequest(DataSpec(image_size=28, channels=1), channels=1, image_size=28,
                               cache=cache / "extractors")
    common = build_extractor(core, "lenet", request)
    gan = train(tmp_path, "gan", "train.steps=5")
    density = train(tmp_path, "density", "train.steps=5", model="toy-density")
    records = {}
    for run in (gan, density):
        records[run.name] = evaluate_json(run, "--metrics", "fid,precision", "--n", "200",
                                          "--space", SPACE)
    for r in [*records["gan"], *records["density"]]:
        assert r["extractor_hash"] == common.weights_hash
        assert r["space"] == SPACE and r["real_images"] == 200
        assert r["reference_data"] == {"dataset": "bundled-mnist", "split": "test",
                                       "channels": 1, "image_size": 28, "binary": False}
        assert r["conversion"] == "1x16x16 -> 1x28x28: antialiased bilinear resize"
        assert math.isfinite(r["value"])
    own = evaluate_json(density, "--metrics", "fid", "--n", "200")[0]
    assert own["space"] == "run" and own["conversion"] == "none"
    assert own["reference_data"]["binary"] and own["reference_data"]["image_size"] == SIZE
    assert own["extractor_hash"] != common.weights_hash
    printed = invoke("evaluate", str(gan), "--metrics", "fid", "--n", "200", "--space", SPACE)
    assert "space: mnist-grey-28 (bundled-mnist test, 1x28x28); samples converted: 1x16x16 -> "\
        "1x28x28: antialiased bilinear resize" in " ".join(printed.output.split())


def test_a_json_space_and_bad_spaces(quality_plugins, tmp_path):
    run = train(tmp_path, "toy", "train.steps=2")
    space = json.dumps({"dataset": "bundled-mnist", "image_size": SIZE, "binarize": "static"})
    record = evaluate_json(run, "--metrics", "fid", "--n", "100", "--space", space)[0]
    assert record["space"] == space and record["reference_data"]["binary"]
    assert record["conversion"] == "none"
    for bad, message in [
        ("mnist", "--space: unknown space 'mnist'; expected 'run', 'mnist-grey-28' or a JSON "
                  "data spec"),
        ('{"image_size": 2}', "--space: data.image_size: Input should be greater than or equal "
                              "to 4 (got 2)"),
        ('{"image_size": ', "--space: not valid JSON"),
    ]:
        result = invoke("evaluate", str(run), "--metrics", "fid", "--space", bad)
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output
