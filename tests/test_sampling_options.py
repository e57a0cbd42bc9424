"""Sampler options of iterative models (`gen.sampling_options`): --sampler, --steps, --eta and
--guidance on `gen sample` and `gen evaluate`, the same keywords on `Run`, checked in one place
against the model; the settings used are recorded (evaluation records, .npz, the default file
name), their cost stated, and a report never puts scores of other settings in one column.

The models: ``toy`` (a GAN: one pass), ``toy-iterative`` (samplers walk (steps) and glide
(steps, eta); defaults glide, 3 steps, eta 0) and ``toy-iterative-cond`` (the same per class,
with guidance; default 1), from tests/toy_plugin/iterative.py, trained 2 steps on 8x8 digits.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runs import invoke, trained_copies, tree

import gen
from gen.capabilities import check_model_class
from gen.errors import UsageError
from gen.report import collect, write
from gen.report.compare import compare
from gen.sampling import generate_batches
from gen.sampling_options import SamplingOptions, describe, file_tag

QUICK = ["--extractor", "toy-pixels", "--device", "cpu"]




def iterative_plugins(plugins):
    import toy_plugin.iterative

    assert plugins.add(toy_plugin.iterative, "toy-iterative-plugin", "0").ok
    return plugins


@pytest.fixture
def plugins(toy_plugins):
    """The toy plugins and the iterative ones, as the CLI's plugin set."""
    return iterative_plugins(toy_plugins)


_RUNS: dict[str, Path] = {}


@pytest.fixture
def runs(plugins, tmp_path_factory) -> dict[str, Path]:
    """One trained run of each toy model, made once per session; each test gets copies."""
    return trained_copies(_RUNS, ("toy", "toy-iterative", "toy-iterative-cond"), tmp_path_factory)




# --- the options object ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps: expected a whole number of at least 1, got 0"),
    ({"steps": True}, "steps: expected a whole number"),
    ({"steps": 2.5}, "steps: expected a whole number"),
    ({"eta": 1.5}, "eta: expected a number from 0 to 1"),
    ({"eta": float("nan")}, "eta: expected a number from 0 to 1"),
    ({"guidance": float("inf")}, "guidance: expected a finite number"),
    ({"sampler": ""}, "sampler: expected a sampler's name"),
])
def test_values_are_checked_when_the_options_are_made(kwargs, message):
    with pytest.raises(UsageError, match=message) as err:
        SamplingOptions(**kwargs)
    assert err.value.exit_code == 2
    with pytest.raises(UsageError, match="--" + message):
        SamplingOptions(**kwargs, cli=True)


def test_settings_read_the_same_in_words_and_file_names():
    a = {"steps": 50, "sampler": "ddim", "eta": 0.0, "guidance": 3}
    b = {"sampler": "ddim", "steps": 50.0, "eta": 0, "guidance": 3.0}
    assert describe(a) == describe(b) == "ddim, 50 steps, eta 0, guidance 3"
    assert file_tag(a) == "-ddim-50steps-eta0-g3"
    assert file_tag({"sampler": "a/b"}) == "-a_b"


def test_a_samplers_declaration_of_unknown_options_is_a_plugin_problem():
    class Typo:
        samplers = {"ddim": ("step", "eta")}

    class NotAMapping:
        samplers = ("ddim",)

    assert "samplers['ddim'] = ('step', 'eta')" in check_model_class(Typo)[0]
    assert "samplers = ('ddim',)" in check_model_class(NotAMapping)[0]


# --- bad combinations: exit 2, the option and the model named, nothing written --------------------

BAD = [
    ("toy", ["--steps", "5"], "model 'toy' draws in one pass; --steps applies to iterative "
     "models"),
    ("toy", ["--sampler", "ddim"], "model 'toy' draws in one pass; --sampler applies"),
    ("toy", ["--eta", "0.5"], "model 'toy' draws in one pass; --eta applies"),
    ("toy", ["--guidance", "2"], "--guidance: model 'toy' cannot use it: its sample() takes no "
     "guidance keyword"),
    ("toy-iterative", ["--sampler", "ddim"], "--sampler ddim: model 'toy-iterative' has no "
     "such sampler; its samplers: walk (steps), glide (steps, eta)"),
    ("toy-iterative", ["--sampler", "walk", "--eta", "0.5"], "--eta: sampler 'walk' of model "
     "'toy-iterative' takes no eta; samplers that take it: glide"),
    ("toy-iterative", ["--guidance", "3"], "--guidance: model 'toy-iterative' cannot use it: "
     "it is unconditional"),
    ("toy-iterative", ["--steps", "0"], "Invalid value for '--steps': 0 is not in the range"),
    ("toy-iterative", ["--eta", "1.5"], "Invalid value for '--eta': 1.5 is not in the range "
     "0<=x<=1"),
    ("toy-iterative", ["--eta", "nan"], "Invalid value for '--eta': 'nan' is not a finite"),
    ("toy-iterative-cond", ["--guidance", "inf"], "Invalid value for '--guidance': 'inf' is "
     "not a finite number"),
]


@pytest.mark.parametrize("command", ["sample", "evaluate"])
@pytest.mark.parametrize("name, args, message", BAD)
def test_an_option_the_model_cannot_use_exits_2_naming_it_and_writes_nothing(
        runs, command, name, args, message):
    run = runs[name]
    before = tree(run)
    extra = ["--metrics", "fid", "-n", "8", *QUICK] if command == "evaluate" else []
    result = invoke(command, run, *extra, *args)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.output, result.output
    assert "Traceback" not in result.output
    assert tree(run) == before, "no file, no metrics.jsonl line"


def test_options_for_metrics_that_draw_nothing_are_refused(runs):
    run = runs["toy-iterative"]
    before = tree(run)
    result = invoke("evaluate", run, "--metrics", "nll", "--steps", "4", "--device", "cpu")
    assert result.exit_code == 2
    assert ("error: --steps applies to drawn samples (fid, kid, precision, recall, is); nll "
            "draw none") in result.output
    assert tree(run) == before


def test_sample_options_do_not_mix_with_reconstruct(runs):
    result = invoke("sample", runs["toy-iterative"], "--reconstruct", "--steps", "2")
    assert result.exit_code == 2
    assert "--steps applies to drawn samples, not --reconstruct" in result.output


def test_python_callers_get_the_keyword_named(runs):
    run = gen.load_run(runs["toy"], device="cpu")
    with pytest.raises(UsageError, match="model 'toy' draws in one pass; steps applies"):
        run.sample(2, steps=3)
    with pytest.raises(UsageError, match="sampler ddim: model 'toy-iterative' has no such"):
        gen.load_run(runs["toy-iterative"], device="cpu").evaluate(
            "fid", n=8, extractor="toy-pixels", sampler="ddim")
    assert "evaluation" not in json.dumps(gen.load_run(runs["toy-iterative"]).metrics())


# --- the settings used are passed on and recorded -------------------------------------------------


def test_generate_batches_passes_only_the_options_given_and_only_to_models_that_take_them(
        runs):
    model = gen.load_run(runs["toy-iterative"], device="cpu").model
    list(generate_batches(model, 3, batch_size=2, sampling=SamplingOptions(steps=7)))
    assert model.received == [{"sampler": None, "steps": 7, "eta": None, "guidance": None}] * 2
    model.received.clear()
    list(generate_batches(model, 2, sampling=SamplingOptions()))
    assert model.received == [{"sampler": None, "steps": None, "eta": None, "guidance": None}]

    gan = gen.load_run(runs["toy"], device="cpu").model  # its sample() takes no keywords
    assert next(generate_batches(gan, 2, sampling=SamplingOptions())).shape[0] == 2
    with pytest.raises(UsageError, match="draws in one pass"):
        next(generate_batches(gan, 2, sampling=SamplingOptions(steps=2)))


def test_run_sample_draws_with_the_options_and_resolves_the_defaults(runs):
    run = gen.load_run(runs["toy-iterative-cond"], device="cpu")
    a = run.sample(6, seed=1, sampler="walk", steps=2, guidance=2.0)
    assert run.model.received[-1] == {"sampler": "walk", "steps": 2, "eta": None,
                                      "guidance": 2.0}
    assert torch.equal(a, run.sample(6, seed=1, sampler="walk", steps=2, guidance=2.0))
    assert run.sampling_settings() == {"sampler": "glide", "steps": 3, "eta": 0.0,
                                       "guidance": 1.0}
    # walk takes no eta: the default eta is not part of what it draws with
    assert run.sampling_settings(sampler="walk") == {"sampler": "walk", "steps": 3,
                                                     "guidance": 1.0}
    assert gen.load_run(runs["toy"], device="cpu").sampling_settings() == {}


def test_gen_sample_records_the_settings_in_the_npz_and_the_default_file_name(runs, tmp_path):
    run = runs["toy-iterative-cond"]
    out = tmp_path / "s.npz"
    result = invoke("sample", run, "-n", "4", "--steps", "5", "--guidance", "3", "--out", out,
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "glide, 5 steps, eta 0, guidance 3" in result.output
    with np.load(out) as npz:
        assert npz["images"].shape == (4, 1, 8, 8) and npz["labels"].shape == (4,)
        assert str(npz["sampler"][0]) == "glide" and int(npz["steps"][0]) == 5
        assert npz["steps"].dtype == np.int64 and float(npz["eta"][0]) == 0.0
        assert float(npz["guidance"][0]) == 3.0

    result = invoke("sample", run, "-n", "4", "--sampler", "walk", "--steps", "2",
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (run / "samples" / "sample-step-000002-seed-0-walk-2steps-g1.png").is_file()
    result = invoke("sample", runs["toy-iterative"], "-n", "4", "--device", "cpu")
    assert (runs["toy-iterative"] / "samples"
            / "sample-step-000002-seed-0-glide-3steps-eta0.png").is_file()

    gan = runs["toy"]  # a one-pass model: file name and .npz as before
    assert invoke("sample", gan, "-n", "4", "--out", tmp_path / "g.npz").exit_code == 0
    assert invoke("sample", gan, "-n", "4").exit_code == 0
    assert (gan / "samples" / "sample-step-000002-seed-0.png").is_file()
    with np.load(tmp_path / "g.npz") as npz:
        assert sorted(npz.files) == ["images"]


def test_gen_evaluate_records_the_settings_and_states_the_cost(runs):
    run = runs["toy-iterative"]
    result = invoke("evaluate", run, "--metrics", "fid,nll", "-n", "20", "--steps", "5",
                    "--json", *QUICK)
    assert result.exit_code == 0, result.output
    fid, nll = json.loads(result.stdout)
    assert fid["sampling"] == {"sampler": "glide", "steps": 5, "eta": 0.0}
    assert "sampling" not in nll, "nll draws no images"
    assert "drawing 20 images with glide, 5 steps, eta 0: 100 network calls" in result.stderr
    assert f"nll of {nll['images']} reference images: {nll['images']:,} network calls" in (
        result.stderr)
    logged = [r["evaluation"] for r in gen.load_run(run).metrics() if "evaluation" in r]
    assert logged[0]["sampling"] == fid["sampling"]

    # without -n: the default is said, so its cost was not a choice
    result = invoke("evaluate", run, "--metrics", "fid", "--sampler", "walk", "--steps", "2",
                    "--json", *QUICK)
    assert result.exit_code == 0, result.output
    assert ("drawing 10000 images with walk, 2 steps: 20,000 network calls (-n 10000 by "
            "default; choose fewer with -n)") in result.stderr
    assert json.loads(result.stdout)[0]["sampling"] == {"sampler": "walk", "steps": 2}

    gan = runs["toy"]  # one pass: the record is as before, and no cost line
    result = invoke("evaluate", gan, "--metrics", "fid", "-n", "20", "--json", *QUICK)
    assert result.exit_code == 0, result.output
    assert "sampling" not in json.loads(result.stdout)[0]
    assert "network calls" not in result.stderr


def test_guidance_costs_two_calls_a_step_and_is_recorded(runs):
    scores = gen.load_run(runs["toy-iterative-cond"], device="cpu").evaluate(
        "fid", n=10, extractor="toy-pixels", guidance=2.0, notes=(lines := []).append)
    assert scores["fid"]["sampling"] == {"sampler": "glide", "steps": 3, "eta": 0.0,
                                         "guidance": 2.0}
    assert lines == ["drawing 10 images with glide, 3 steps, eta 0, guidance 2: 60 network "
                     "calls"]


def test_evaluations_during_training_carry_the_default_settings(plugins, tmp_path,
                                                               monkeypatch):
    import gen.evaluation.periodic as periodic

    monkeypatch.setattr(periodic, "CoverageProbe", lambda *a, **k: None)  # lenet: not needed
    run = gen.train("toy-iterative", overrides={
        "train.device": "cpu", "train.steps": 2, "train.batch_size": 16, "train.eval_every": 2,
        "train.eval_metric": "fid", "train.eval_n": 16, "train.eval_extractor": "toy-pixels",
        "model.steps": 4}, out=tmp_path / "r", progress=False)
    [record] = [r["evaluation"] for r in run.metrics() if "evaluation" in r]
    assert record["sampling"] == {"sampler": "glide", "steps": 4, "eta": 0.0}


# --- the report keeps other settings apart --------------------------------------------------------


def fid(step: int, value: float, sampling: dict | None) -> dict:
    record = {"metric": "fid", "value": value, "unit": "distance", "extractor": "lenet",
              "extractor_hash": "sha256:" + "a" * 64, "split": "test", "space": "run",
              "step": step, "seed": 0}
    return {"step": step, "evaluation": record | ({"sampling": sampling} if sampling else {})}


def test_scores_of_other_sampler_settings_never_share_a_column_or_a_curve(runs):
    paths = [runs["toy-iterative"], runs["toy-iterative-cond"], runs["toy"]]
    fifty = {"sampler": "ddim", "steps": 50, "eta": 0.0}
    logs = [
        [fid(1, 30.0, fifty), fid(2, 20.0, fifty)],
        # the same settings in another order and type: one column with the first run's
        [fid(1, 25.0, {"eta": 0, "steps": 50.0, "sampler": "ddim"}),
         fid(2, 12.0, {**fifty, "steps": 250})],
        [fid(2, 40.0, None)],  # a GAN's record: no settings
    ]
    for path, records in zip(paths, logs, strict=True):
        with open(path / "metrics.jsonl", "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    reports = [collect.collect(gen.load_run(p)) for p in paths]
    comparison = compare(reports)
    columns = [c for c in comparison.columns if c.metric == "fid"]
    assert len(columns) == 3 and all(c.split for c in columns)
    by_text = {c.measurement.text(): j for j, c in enumerate(comparison.columns)}
    fifty_text = next(t for t in by_text if "sampler ddim, 50 steps, eta 0" in t)
    assert {i for i in range(3) if (i, by_text[fifty_text]) in comparison.cells} == {0, 1}
    assert any("sampler ddim, 250 steps, eta 0" in t for t in by_text)
    curves = [plot for plot in comparison.curves if plot.title.startswith("FID")]
    assert len(curves) == 1, "only the shared settings make a shared curve"
    assert "sampler ddim, 50 steps, eta 0" in curves[0].title
    assert set(curves[0].lines) == {reports[0].label, reports[1].label}

    text = write.render_report(paths)
    assert "sampler ddim, 50 steps, eta 0" in text and "sampler ddim, 250 steps" in text


def test_scores_of_the_weight_average_and_the_live_weights_never_share_a_column(runs):
    """train.ema: records of the average say weights "ema"; they are other samples."""
    paths = [runs["toy"], runs["toy-iterative"]]
    logs = [[fid(2, 40.0, None)],
            [{"step": 2, "evaluation": fid(2, 30.0, None)["evaluation"] | {"weights": "ema"}}]]
    for path, records in zip(paths, logs, strict=True):
        with open(path / "metrics.jsonl", "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    comparison = compare([collect.collect(gen.load_run(p)) for p in paths])
    texts = [c.measurement.text() for c in comparison.columns if c.metric == "fid"]
    assert len(texts) == 2 and sum("ema weights" in t for t in texts) == 1


# --- discovery ------------------------------------------------------------------------------------


def test_list_models_shows_steps_guidance_and_the_samplers(plugins):
    result = invoke("list-models", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    # read from the class (one for both): guidance is used where the model is conditional
    for name in ("toy-iterative", "toy-iterative-cond"):
        assert rows[name]["capabilities"] == ["sample", "steps", "guidance", "nll"]
    assert [rows[n]["conditional"] for n in ("toy-iterative", "toy-iterative-cond")] == [
        False, True]
    assert rows["toy-iterative"]["samplers"] == {"walk": ["steps"], "glide": ["steps", "eta"]}
    assert rows["toy"]["samplers"] is None and rows["toy"]["capabilities"] == [
        "sample", "truncation", "latent-interpolation"]
    table = invoke("list-models").output
    assert "steps (walk, glide)" in table

