"""A report that decides (docs/report.md): scores measured differently never share a column, a
curve or a best; best.pt says how it was measured; the spec fields that differ; grids side by
side at a matched step; facts from the records (resumes, stops, the time budget); curves over
steps, images seen or wall time, with units, the health rules' thresholds, and one-point series
as values.

The runs are tests/test_report.py's tiny DCGAN and WGAN-GP, copied and given evaluation
records as `train.eval_every` and `gen evaluate` write them.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
from test_report import HASH_A, HASH_B, append, copy_run, fid, tiny_runs

import gen
from gen.report import collect, compare, facts, figures, plots, write
from gen.report.measurement import HIGHER_IS_BETTER, Score, best_of, measurement_of
from gen.report.timeline import timeline
from gen.training.health import HealthRules


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return tiny_runs(tmp_path_factory)


def keep_best(run: Path, step: int, best: dict) -> None:
    """best.pt as the trainer writes it: the step's checkpoint and the record that made it."""
    from gen.run.checkpoints import load_checkpoint, save_best

    handle = gen.load_run(run)
    ckpt = load_checkpoint(handle.checkpoints[step])
    save_best(handle.dir, {k: v for k, v in ckpt.items() if k not in ("format", "step")}, best)


def issue_runs(runs, root: Path) -> tuple[Path, Path]:
    """The runs of issue 23: a DCGAN scored during training at n 500 (best.pt kept at its
    better score, 486.2) and once by `gen evaluate` with 10,000 generated against 1,000 real
    (307.6), and a WGAN-GP scored during training at n 500 (1751 at its latest)."""
    dcgan = Path(shutil.copytree(runs["dcgan"], root / "dcgan"))
    wgan = Path(shutil.copytree(runs["wgan"], root / "wgan-gp"))
    append(dcgan, fid(3, 520.0, training=True), fid(6, 486.2, training=True),
           fid(6, 307.6, n=10_000, real=1_000))
    append(wgan, fid(3, 1900.0, training=True), fid(6, 1751.0, training=True))
    keep_best(dcgan, 6, {"metric": "fid", "value": 486.2, "step": 6, "seed": 0,
                         "extractor": "lenet", "extractor_hash": HASH_A})
    return dcgan, wgan


def reports_of(*paths) -> list[collect.RunReport]:
    runs = [gen.load_run(p) for p in paths]
    return [collect.collect(r, label) for r, label in zip(runs, collect.run_labels(runs),
                                                          strict=True)]


# --- the issue's runs ----------------------------------------------------------------------------


def test_the_issue_s_runs_give_two_columns_two_curves_and_the_right_best(runs, tmp_path):
    dcgan, wgan = issue_runs(runs, tmp_path)
    reports = reports_of(dcgan, wgan)
    c = compare.compare(reports)

    fids = [j for j, col in enumerate(c.columns) if col.metric == "fid"]
    assert [c.columns[j].measurement.images for j in fids] == [500, 10_000]
    assert all(c.columns[j].split for j in fids)
    for j in range(len(c.columns)):
        held = {c.cells[(i, j)].measurement for i in range(2) if (i, j) in c.cells}
        assert len(held) == 1, "a column holds scores measured one way"
    small, large = fids
    assert {i: c.cells[(i, small)].value for i in range(2)} == {0: 486.2, 1: 1751.0}
    assert c.ranking[small] == [0, 1], "best only among scores of one n: 486.2 < 1751"
    assert [i for i in range(2) if (i, large) in c.cells] == [0]

    # curves: the n 500 scores of both runs share a plot; 307.6 is on no curve with them
    fid_curves = [p for p in c.curves if p.title.startswith("FID")]
    assert len(fid_curves) == 1 and "n 500" in fid_curves[0].title
    assert fid_curves[0].lines == {"dcgan": [(3, 520.0), (6, 486.2)],
                                   "wgan-gp": [(3, 1900.0), (6, 1751.0)]}
    own = [figures.score_plot(reports[0], [s for s in reports[0].scores if s.key == key], "")
           for key in dict.fromkeys(s.key for s in reports[0].scores)]
    assert [p.lines["FID"] for p in own] == [[(3, 520.0), (6, 486.2)], [(6, 307.6)]]
    assert own[0].star[:2] == (6, 486.2) and own[0].marks == [(6, "best.pt (step 6)")]
    assert own[1].marks == [], "best.pt was measured at n 500, not on this curve"

    # best.pt: its record names only the extractor; the log says how it was measured
    best = reports[0].best_score
    assert reports[0].best_logged and best.measurement.images == 500 and best.during_training
    assert "n 500 · real n 500" in facts.best_text(reports[0])

    text = write.render_report([dcgan, wgan])
    assert "FID ↓ (n 500 · real n 500): best dcgan 486.2, then wgan-gp 1751" in text
    assert "FID ↓ (n 10,000 · real n 1,000): only dcgan was measured this way" in text
    assert "<b>FID 307.6</b> at step 6, by gen evaluate" in text
    assert re.search(r'<td class="best">486\.2 ★', text)
    # the spec fields that differ, a row each
    table = text[text.index('<table class="spec-diff">'):]
    table = table[:table.index("</table>")]
    assert "<code>model.name</code>" in table and "<code>wgan-gp</code>" in table
    assert table.count("<tr>") == len(c.spec_diff) + 1
    assert "Samples side by side" in text and "dcgan · step 6" in text


def test_every_part_of_how_a_score_was_measured_keeps_scores_apart():
    base = fid(6, 100.0)["evaluation"]
    one = measurement_of(base)
    changes = [{"images": 10_000, "generated_images": 10_000}, {"real_images": 1_000},
               {"fid_convention": "clean-fid"}, {"extractor_hash": HASH_B},
               {"extractor": "inception"}, {"split": "train"}, {"space": "mnist-grey-28"},
               {"sampling": {"sampler": "ddim", "steps": 50, "eta": 0.0}},
               {"sampling": {"truncation": 0.7}}, {"weights": "ema"},
               {"reference_stats": {"sha256": "c" * 64, "file": "stats.npz", "n": 50_000}},
               {"reference_data": {"dataset": "mnist", "channels": 1, "image_size": 28}}]
    for change in changes:
        assert measurement_of({**base, **change}) != one, change
    # the same measurement, said differently or left to its default
    same = [{"fid_convention": "torch-fidelity"}, {"seed": 3}, {"step": 9},
            {"checkpoint": "x.pt"}]
    for change in same:
        assert measurement_of({**base, **change}) == one, change
    stats = {"sha256": "c" * 64, "file": "a.npz"}
    assert measurement_of({**base, "reference_stats": stats}) == measurement_of(
        {**base, "reference_stats": {**stats, "file": "elsewhere/a.npz"}})
    sampled = {"sampler": "ddim", "steps": 50, "eta": 0}
    assert measurement_of({**base, "sampling": sampled}) == measurement_of(
        {**base, "sampling": {"eta": 0.0, "steps": 50.0, "sampler": "ddim"}})
    # likelihoods: the estimator is part of it
    nll = {"metric": "nll", "value": 80.0, "images": 1000, "split": "test", "estimator": "exact"}
    assert measurement_of(nll) != measurement_of({**nll, "estimator": "importance-weighted"})


def test_scores_of_different_extractors_or_references_never_share_a_column(runs, tmp_path):
    a = copy_run(runs, "dcgan", tmp_path, to="a")
    b = copy_run(runs, "dcgan", tmp_path, to="b")
    c = copy_run(runs, "dcgan", tmp_path, to="c")
    kid = {"step": 6, "evaluation": {"metric": "kid", "value": 0.1, "extractor": "lenet",
                                     "extractor_hash": HASH_A, "split": "test"}}
    append(a, fid(6, 100.0, HASH_A), kid)
    append(b, fid(6, 90.0, HASH_B), kid)
    append(c, fid(3, 80.0, HASH_A, split="train"), fid(6, 70.0, HASH_A, space="mnist-grey-28"))
    comparison = compare.compare(reports_of(a, b, c))
    fids = [col for col in comparison.columns if col.metric == "fid"]
    assert len(fids) == 4 and all(col.split for col in fids)
    for j, col in enumerate(comparison.columns):
        rows = [i for i in range(3) if (i, j) in comparison.cells]
        assert len({comparison.cells[(i, j)].measurement for i in rows}) == 1
        if col.metric == "fid":
            assert len(rows) == 1
    kids = [j for j, col in enumerate(comparison.columns) if col.metric == "kid"]
    assert len(kids) == 1 and not comparison.columns[kids[0]].split
    assert {i for i in range(3) if (i, kids[0]) in comparison.cells} == {0, 1}

    text = write.render_report([a, b, c])
    assert "FID ↓<sup>1</sup>" in text and "KID ↓<br>" in text
    assert "FID was measured in more than one way among these runs" in text
    assert "sha256:aaaaaaaa…" in text and "sha256:bbbbbbbb…" in text
    assert "reference train" in text and "space mnist-grey-28" in text


def test_scores_recorded_before_spaces_or_conventions_share_a_column_with_their_kind(
        runs, tmp_path):
    """A record without `space` was computed in the run's own space and one without
    `fid_convention` with torch-fidelity's (the only ones then): one column with records
    that say so, not two."""
    a = copy_run(runs, "dcgan", tmp_path, to="old")
    b = copy_run(runs, "dcgan", tmp_path, to="new")
    own = {"dataset": "bundled-mnist", "split": "test", "channels": 1, "image_size": 16}
    append(a, fid(6, 100.0))
    append(b, fid(6, 90.0, space="run", reference_data=own, fid_convention="torch-fidelity"))
    comparison = compare.compare(reports_of(a, b))
    fids = [j for j, col in enumerate(comparison.columns) if col.metric == "fid"]
    assert len(fids) == 1 and {i for i in range(2) if (i, fids[0]) in comparison.cells} == {0, 1}


def test_the_best_is_chosen_within_one_measurement_and_the_metric_s_direction():
    from gen.evaluation.evaluate import HIGHER_IS_BETTER as EVALUATION_S

    assert HIGHER_IS_BETTER == EVALUATION_S
    way = measurement_of(fid(6, 1.0)["evaluation"])

    def scores(metric, *values):
        return [Score(step, metric, v, way) for step, v in enumerate(values)]

    assert best_of(scores("fid", 30.0, 10.0, 20.0)).value == 10.0
    assert best_of(scores("is", 3.0, 9.0, 5.0)).value == 9.0
    assert best_of(scores("precision", 0.5, 0.7)).value == 0.7
    assert best_of(scores("fid", 10.0, 10.0)).step == 1, "the later of equal scores"
    assert best_of(scores("my-metric", 1.0, 2.0)) is None, "no direction known, no best"


def test_best_pt_says_how_it_was_measured(runs, tmp_path):
    run = copy_run(runs, "dcgan", tmp_path, to="best")
    append(run, fid(6, 50.0, training=True), fid(6, 50.0, n=10_000, real=1_000))
    recorded = {"metric": "fid", "value": 50.0, "step": 6, "seed": 0, "extractor": "lenet",
                "extractor_hash": HASH_A, "images": 10_000, "real_images": 1_000}
    keep_best(run, 6, recorded)
    (report,) = reports_of(run)
    assert report.best_logged and report.best_score.measurement.images == 10_000
    assert not report.best_score.during_training
    keep_best(run, 6, {**recorded, "images": 2_000})  # a record the log does not hold
    (report,) = reports_of(run)
    assert not report.best_logged and report.best_score.measurement.images == 2_000
    assert "n 2,000" in facts.best_text(report)
    assert "its evaluation record is not in metrics.jsonl" in facts.best_text(report)


# --- what differs, side by side ------------------------------------------------------------------


def test_the_spec_fields_that_differ(runs, tmp_path):
    dcgan, wgan = issue_runs(runs, tmp_path)
    rows = dict(compare.spec_diff(reports_of(dcgan, wgan)))
    assert rows["model.name"] == ["dcgan", "wgan-gp"]
    assert "train.out" not in rows and "train.steps" not in rows, "equal or where it was put"
    only_one = [k for k, v in rows.items() if "—" in v]
    assert only_one, "a field one family has and the other lacks"
    assert all(len(set(v)) > 1 for v in rows.values())
    assert compare.flatten({"a": {"b": {"c": 1}, "d": [1, 2], "e": {}}, "f": "x"}) == {
        "a.b.c": "1", "a.d": "[1, 2]", "a.e": "{}", "f": "x"}


def test_grids_side_by_side_latest_and_at_a_matched_step(runs, tmp_path):
    full = copy_run(runs, "dcgan", tmp_path, to="full")
    short = copy_run(runs, "dcgan", tmp_path, to="short")
    (short / "samples" / "step-000006.png").unlink()
    rows = compare.matched_grids(reports_of(full, short))
    assert [(title, [g.step for g in grids]) for title, grids in rows] == [
        ("latest", [6, 4]), ("nearest step 4", [4, 4])]
    # at equal wall time: the faster run's earlier grid
    slow = copy_run(runs, "dcgan", tmp_path, to="slow")
    log = [json.loads(x) for x in (slow / "metrics.jsonl").read_text().splitlines()]
    (slow / "metrics.jsonl").write_text("".join(json.dumps(
        {**r, "elapsed_s": 10 * r["elapsed_s"], "images_per_s": r["images_per_s"] / 10}) + "\n"
        for r in log))
    rows = [(title, [g.step for g in grids])
            for title, grids in compare.matched_grids(reports_of(full, slow))]
    assert len(rows) == 2 and rows[0] == ("latest", [6, 6])
    assert rows[1][0].startswith("nearest wall time") and rows[1][1] == [6, 2]


# --- facts from the records ----------------------------------------------------------------------


def line(step: int, elapsed: float, rate: float, **more) -> dict:
    return {"step": step, "d_loss": 1.0, "images_per_s": rate, "elapsed_s": elapsed, **more}


def test_a_resume_starts_at_the_step_it_resumed_from_and_time_adds_up():
    """16 images a step. Killed after step 5's checkpoint (the log keeps steps 2 and 4); the
    resumed session's first line, at step 8, drew 48 images: 3 steps, so it resumed at 5."""
    killed = [line(2, 1.0, 32.0), line(4, 2.0, 32.0), line(8, 1.5, 32.0), line(10, 2.5, 32.0)]
    t = timeline(killed, batch_size=16)
    assert t.images_per_step == 16 and t.resumed_at == [5]
    assert t.wall_time == pytest.approx(2.0 + 2.5)
    assert t.wall(4) == 2.0 and t.wall(5) == 2.0 and t.wall(8) == pytest.approx(3.5)
    assert t.images(10) == 160

    # stopped on its budget: the stop's own time counts, and the resume starts there
    stop = {"step": 5, "stopped": {"reason": "max_time", "max_time_s": 2.5, "train_s": 2.6}}
    t = timeline([line(2, 1.0, 32.0), line(4, 2.0, 32.0), stop, line(6, 0.5, 32.0)], 16)
    assert t.resumed_at == [5] and t.wall_time == pytest.approx(2.6 + 0.5)

    # a WGAN critic draws a batch per critic update: 5 batches a step
    assert timeline([line(2, 1.0, 160.0), line(4, 2.0, 160.0)], 16).images_per_step == 80
    assert timeline([{"step": 2, "d_loss": 1.0}], 16).wall_time is None


def test_facts_of_a_resumed_run(runs, tmp_path):
    run = copy_run(runs, "dcgan", tmp_path, to="resumed")
    spec = json.loads((run / "spec.json").read_text())
    spec["train"]["steps"] = 20  # stopped at 6 of 20
    (run / "spec.json").write_text(json.dumps(spec))
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    rate = logged[-1]["images_per_s"]
    append(run, {**logged[-1], "step": 8, "elapsed_s": 32 / rate},  # 2 steps since step 6
           '{"step": 10, "d_loss": 1')  # cut short by a kill
    (report,) = reports_of(run)
    assert report.timeline.resumed_at == [6]
    assert report.timeline.wall_time == pytest.approx(logged[-1]["elapsed_s"] + 32 / rate)
    assert facts.status(report).startswith("not finished: logged up to step 8 of 20")
    text = write.render_report([run])
    assert "over 2 sessions (resumed at step 6)" in text and "8 of 20 (checkpoint at 6)" in text
    assert "resumed at 6" in text, "a dashed line on the curves"


def test_a_run_stopped_on_its_time_budget_says_so(runs, tmp_path):
    run = copy_run(runs, "dcgan", tmp_path, to="budget")
    spec = json.loads((run / "spec.json").read_text())
    spec["train"]["steps"], spec["train"]["max_time"] = 20, 300.0
    (run / "spec.json").write_text(json.dumps(spec))
    append(run, {"step": 6, "stopped": {"reason": "max_time", "max_time_s": 300.0,
                                        "train_s": 300.2}})
    (report,) = reports_of(run)
    assert facts.status(report) == ("stopped on its time budget (train.max_time = 300 s) at "
                                    "step 6 of 20; continue it with gen train --resume")
    assert facts.steps_text(report) == "6 steps in a 5 min 00 s budget (checkpoint at 6)"
    assert report.timeline.wall_time == pytest.approx(300.2), "the stop's span counts"
    text = write.render_report([run])
    assert "stopped on its time budget" in text and "6 of 20 (" not in text
    append(run, {"step": 7, "d_loss": 1.0})  # resumed past the stop: training again
    assert facts.status(reports_of(run)[0]).startswith("not finished")


# --- the curves ----------------------------------------------------------------------------------


def test_curves_over_steps_images_seen_or_wall_time(runs):
    (dcgan, wgan) = reports_of(runs["dcgan"], runs["wgan"])
    assert dcgan.timeline.images_per_step == 16 and wgan.timeline.images_per_step == 80
    (plot,) = [p for p in figures.training_plots(wgan) if p.title == "grad norm"]
    drawn = {axis: plots.draw(plot, axis, axis) for axis in plots.AXES}
    assert ">step<" in drawn["step"] and ">images seen<" in drawn["images"]
    assert re.search(r">wall time \((s|min)\)<", drawn["time"])
    assert ">gradient norm (L2)<" in drawn["step"], "the y-axis says what it shows"

    untimed = figures.Plot("x", "loss", {"a": [(1, 1.0), (2, 2.0)]},
                           {"a": timeline([], None)})
    assert plots.draw(untimed, "time", "s") is None and plots.draw(untimed, "images", "s") is None
    assert plots.draw(untimed, "step", "s") is not None


def test_legends_are_9_pt_and_figures_fit_a_phone(runs):
    (report,) = reports_of(runs["dcgan"])
    svg = plots.draw(figures.training_plots(report)[0], "step", "s")
    width = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svg).group(1))
    assert width <= 290, "3.8 in: 9 pt legends are 9 pt on a 400 px page"
    legend = svg[svg.index('id="legend_1"'):]
    sizes = {float(s) for s in re.findall(r"font-size: ([\d.]+)px", legend)}
    assert sizes and min(sizes) >= 9


def test_one_point_series_are_values_not_plots():
    plot = figures.Plot("losses", "loss", {"a": [(1, 1.0), (2, 2.0)], "b": [(2, 5.0)]}, {})
    rest, values = figures.split_single(plot)
    assert list(rest.lines) == ["a"] and [(v.label, v.step, v.value) for v in values] == [
        ("b", 2, 5.0)]
    alone, values = figures.split_single(figures.Plot("t", "u", {"b": [(2, 5.0)]}, {}))
    assert alone is None and len(values) == 1


def test_coverage_plots_draw_the_health_rules_thresholds(runs, tmp_path):
    run = copy_run(runs, "dcgan", tmp_path, to="coverage")
    for step, covered in ((3, 9), (6, 4)):
        append(run, {"step": step, "coverage": {"classes_covered": covered, "num_classes": 10,
                                                "kl": 0.2, "feature_spread": 0.9}})
    (report,) = reports_of(run)
    rules = HealthRules()
    lines = {p.title: p.thresholds for p in figures.coverage_plots(report)}
    assert lines["classes covered (of 10)"][0][0] == rules.min_coverage * 10
    assert lines["kl"][0][0] == rules.max_kl
    assert lines["feature spread"][0][0] == rules.min_spread
    assert "mode-collapse rule: below 5" in write.render_report([run])
