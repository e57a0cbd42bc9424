"""The Inception Score and the FID conventions: the arithmetic, the clean-fid resize reaching
the extractor, `gen evaluate --metrics is --fid-convention ...` end to end with a stand-in
classifier, and the bad input (an extractor without logits or of no fixed size, an unknown
convention, too few images) refused with exit 2 and nothing written.

The equality with torch-fidelity and clean-fid themselves is in test_crosscheck.py.
"""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from cli_runs import invoke, trained_copies, tree
from plugin_helpers import plugin_module

from gen.errors import UsageError
from gen.evaluation.conventions import check_convention, preparer
from gen.evaluation.metrics.inception_score import inception_score
from gen.extractors.base import Extractor

SIZE = 12  # the stand-in's input size; the toy runs' images are 8x8


class Classifier(Extractor):
    """A stand-in for the Inception: a fixed input size (uint8 images are resized inside, float
    ones must come at that size), pooled pixels as features, fixed random class logits. Keeps
    the dtype and size of every batch it is given."""

    input_size = SIZE
    has_logits = True
    seen: list[tuple[torch.dtype, int]] = []

    def __init__(self, channels: int):
        super().__init__()
        self.num_features = channels * 16
        self.weights_hash = "sha256:" + "1" * 64
        weights = torch.randn(self.num_features, 10, generator=torch.Generator().manual_seed(0))
        self.head = torch.nn.Parameter(weights * 20)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        Classifier.seen.append((images.dtype, images.shape[-1]))
        if images.dtype == torch.uint8:
            images = F.interpolate(images.float(), size=SIZE, mode="bilinear")
        assert images.shape[-1] == SIZE
        return F.adaptive_avg_pool2d(images / 255, 4).flatten(1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.head


_RUNS: dict[str, Path] = {}


@pytest.fixture
def runs(toy_plugins, monkeypatch, tmp_path_factory) -> dict[str, Path]:
    """A trained toy run (copied per test), with the stand-in classifier ``toy-classifier`` and
    the logit-less ``toy-pixels`` installed."""
    import toy_plugin.iterative

    def gen_register_extractors(register):
        register(name="toy-classifier", summary="a stand-in classifier of fixed input size",
                 extractor="toy_classifier:build")

    module = plugin_module(monkeypatch, "toy_classifier",
                           gen_register_extractors=gen_register_extractors)
    module.build = lambda request: Classifier(request.channels)
    assert toy_plugins.add(module, "toy-classifier", "0").ok
    assert toy_plugins.add(toy_plugin.iterative, "toy-iterative-plugin", "0").ok
    Classifier.seen.clear()
    return trained_copies(_RUNS, ("toy",), tmp_path_factory)


QUICK = ["-n", "20", "--device", "cpu", "--json"]


# --- the arithmetic ---------------------------------------------------------------------------


def test_the_inception_score_runs_from_one_to_the_number_of_classes():
    assert inception_score(torch.zeros(100, 7)) == pytest.approx((1.0, 0.0))
    # every image surely one class, the classes equally often (in each shuffled split nearly so)
    certain = torch.eye(10).repeat(1000, 1) * 100
    mean, std = inception_score(certain)
    assert mean == pytest.approx(10.0, rel=1e-2) and std < 0.05
    one_class = torch.eye(10)[:1].repeat(100, 1) * 100  # confident, but all the same class
    assert inception_score(one_class)[0] == pytest.approx(1.0)


def test_the_clean_fid_convention_resizes_to_the_input_size_and_the_default_does_not():
    images = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)
    resized = preparer("clean-fid", Classifier(1))(images)
    assert resized.dtype == torch.float32 and resized.shape == (2, 1, SIZE, SIZE)
    assert resized.min() >= 0 and resized.max() <= 255
    assert preparer("torch-fidelity", Classifier(1)) is None
    any_size = Extractor()
    any_size.name = "pixels"
    assert preparer("clean-fid", any_size) is None
    with pytest.raises(UsageError, match="extractor 'pixels' takes images of any size"):
        check_convention("clean-fid", any_size)
    with pytest.raises(UsageError, match="--fid-convention: unknown convention 'tf'"):
        check_convention("tf")


# --- end to end -------------------------------------------------------------------------------


def test_gen_evaluate_scores_is_and_fid_by_the_clean_fid_convention_and_records_it(runs):
    run = runs["toy"]
    result = invoke("evaluate", run, "--metrics", "is,fid", "--extractor", "toy-classifier",
                    "--fid-convention", "clean-fid", *QUICK)
    assert result.exit_code == 0, result.output
    records = {r["metric"]: r for r in json.loads(result.stdout)}
    assert set(records) == {"is", "fid"}
    assert all(r["fid_convention"] == "clean-fid" for r in records.values())
    score = records["is"]
    assert 1 <= score["value"] <= 10 and math.isfinite(score["std"]) and score["std"] >= 0
    assert "10 splits" in score["estimator"] and score["generated_images"] == 20
    assert set(Classifier.seen) == {(torch.float32, SIZE)}, "resized by gen"
    logged = [json.loads(line)["evaluation"] for line in (run / "metrics.jsonl").open()
              if '"evaluation"' in line]
    assert [r["fid_convention"] for r in logged] == ["clean-fid", "clean-fid"]


def test_the_default_convention_is_torch_fidelitys_and_the_extractor_resizes(runs):
    result = invoke("evaluate", runs["toy"], "--metrics", "fid", "--extractor",
                    "toy-classifier", *QUICK)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["fid_convention"] == "torch-fidelity"
    assert set(Classifier.seen) == {(torch.uint8, 8)}, "handed over as stored"


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--metrics", "is", "--extractor", "toy-pixels"],
     "is: extractor 'toy-pixels' has no class logits"),
    (["--metrics", "fid", "--extractor", "toy-pixels", "--fid-convention", "clean-fid"],
     "--fid-convention clean-fid: extractor 'toy-pixels' takes images of any size"),
    (["--metrics", "fid", "--fid-convention", "tf"],
     "Invalid value for '--fid-convention': 'tf' is not one of 'torch-fidelity', 'clean-fid'"),
    (["--metrics", "is", "--extractor", "toy-classifier", "-n", "5"],
     "is: the Inception Score splits the images into 10; 5 images are fewer"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(runs, args, message):
    run = runs["toy"]
    before = tree(run)
    result = invoke("evaluate", run, "--device", "cpu", *args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert tree(run) == before


# --- during training --------------------------------------------------------------------------


def test_train_eval_metric_is_scores_during_training_and_keeps_the_highest(runs, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "toy", "--out", run, "-q", "--set", "train.device=cpu", "--set",
                    "train.steps=4", "--set", "train.eval_every=2", "--set",
                    "train.eval_metric=is", "--set", "train.eval_n=20", "--set",
                    "train.eval_extractor=toy-classifier")
    assert result.exit_code == 0, result.output
    scores = [json.loads(line)["evaluation"] for line in (run / "metrics.jsonl").open()
              if '"evaluation"' in line]
    assert [(s["metric"], s["step"], s["generated_images"]) for s in scores] == [
        ("is", 2, 20), ("is", 4, 20)]
    assert all(1 <= s["value"] <= 10 for s in scores)
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=False)["best"]
    highest = max(scores, key=lambda s: s["value"])
    assert (best["step"], best["value"]) == (highest["step"], highest["value"])
    assert best["generated_images"] == 20 and best["fid_convention"] == "torch-fidelity"


@pytest.mark.parametrize("sets, message", [
    (["train.eval_metric=is", "train.eval_n=5"], "train.eval_n: is splits the images into 10"),
    (["train.eval_metric=is", "train.eval_extractor=toy-pixels"],
     "is: extractor 'toy-pixels' has no class logits"),
])
def test_train_eval_metric_is_refuses_what_cannot_work_before_training(runs, tmp_path, sets,
                                                                       message):
    result = invoke("train", "toy", "--out", tmp_path / "run", "-q", "--set", "train.device=cpu",
                    "--set", "train.eval_every=2", *(a for s in sets for a in ("--set", s)))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "run").exists()


def test_the_specs_minimum_images_agree_with_the_metrics():
    from gen import specs
    from gen.evaluation.metrics.inception_score import SPLITS
    from gen.evaluation.metrics.precision_recall import K

    assert (specs.NEIGHBOURS_K, specs.IS_SPLITS) == (K, SPLITS)
