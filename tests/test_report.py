"""`gen report` (docs/report.md): one self-contained HTML page of real runs of two families, built
from the run API; runs in progress, interrupted or odd; bad input; --watch; nothing written but
--out. How scores measured differently are kept apart, and what the page decides, is in
tests/test_report_decides.py.

The runs are a DCGAN, a WGAN-GP and a PixelCNN trained a few steps on bundled MNIST at 16x16
with small widths (a few seconds on a CPU); the PixelCNN gets a best.pt as `train.eval_every`
leaves one.
"""

import json
import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import gen
from gen.cli.main import cli
from gen.report import collect, write
from gen.report.facts import status

CPU = {"train.device": "cpu", "train.batch_size": 16, "data.image_size": 16,
       "train.log_every": 2, "train.sample_every": 2, "train.checkpoint_every": 3,
       "train.num_samples": 16}
HASH_A = "sha256:" + "a" * 64
HASH_B = "sha256:" + "b" * 64


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


_TRAINED: dict[str, Path] = {}


def tiny_runs(tmp_path_factory) -> dict[str, Path]:
    """A finished DCGAN, WGAN-GP and PixelCNN run (the last with scores and a best.pt),
    trained once per test session (the other tests/test_report_*.py use them too)."""
    if not _TRAINED:
        root = tmp_path_factory.mktemp("report-runs")
        small = {**CPU, "train.steps": 6, "model.g_features": 8, "model.d_features": 8}
        dcgan = gen.train("dcgan", overrides=small, out=root / "dcgan", progress=False)
        wgan = gen.train("wgan-gp", overrides=small, out=root / "wgan-gp", progress=False)
        pixelcnn = gen.train("pixelcnn", overrides={**CPU, "train.steps": 6, "model.hidden": 8,
                                                    "model.blocks": 2,
                                                    "model.output_hidden": 16},
                             out=root / "pixelcnn", progress=False)
        _evaluated_during_training(pixelcnn, {3: 160.5, 6: 158.25}, best=6)
        _TRAINED.update(dcgan=dcgan.path, pixelcnn=pixelcnn.path, wgan=wgan.path)
    return _TRAINED


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return tiny_runs(tmp_path_factory)


def _evaluated_during_training(run, nats: dict[int, float], best: int) -> None:
    """What `train.eval_every` with `train.eval_metric=nll` leaves: nll records in the log and
    best.pt (the real writer, fed the step's checkpoint) for the ``best`` step."""
    from gen.run.checkpoints import load_checkpoint, save_best

    dims = 16 * 16
    with open(run.dir.metrics_path, "a") as log:
        for step, value in nats.items():
            record = {"metric": "nll", "value": value, "unit": "nats/image",
                      "bits_per_dim": value / (dims * math.log(2)), "estimator": "exact",
                      "images": 1000, "model": run.name, "split": "test", "step": step,
                      "seed": 0, "checkpoint": None}
            log.write(json.dumps({"step": step, "eval_nll": value, "evaluation": record}) + "\n")
    ckpt = load_checkpoint(run.checkpoints[best])
    payload = {k: v for k, v in ckpt.items() if k not in ("format", "step")}
    save_best(run.dir, payload, {"metric": "nll", "value": nats[best], "step": best, "seed": 0})


def copy_run(runs, name: str, tmp_path: Path, to: str | None = None) -> Path:
    return Path(shutil.copytree(runs[name], tmp_path / (to or name)))


def append(run: Path, *records) -> None:
    with open(run / "metrics.jsonl", "a") as log:
        for record in records:
            log.write((record if isinstance(record, str) else json.dumps(record)) + "\n")


def fid(step: int, value: float, digest: str = HASH_A, split: str = "test", *,
        n: int = 500, real: int = 500, training: bool = False, **more) -> dict:
    """An FID record as `gen evaluate` writes it, or (``training``) as `train.eval_every`
    does, with the flat ``eval_fid`` copy beside it."""
    record = {"step": step, "evaluation": {
        "metric": "fid", "value": value, "unit": "distance", "extractor": "lenet",
        "extractor_hash": digest, "images": n, "real_images": real, "generated_images": n,
        "split": split, "step": step, "seed": 0, **more}}
    return {"step": step, "eval_fid": value, **record} if training else record


def tree(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under ``root``: a file's size and mtime, None for a folder."""
    return {str(p.relative_to(root)): None if p.is_dir() else (p.stat().st_size,
                                                                p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


class Page(HTMLParser):
    """The tags and attributes of a page, and whether every element closes."""

    VOID = {"meta", "link", "img", "input", "br", "hr", "path", "use", "stop", "rect",
            "circle", "line", "polyline", "polygon", "ellipse"}

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


# --- the page ----------------------------------------------------------------------------------


def test_a_report_of_two_families_shows_every_panel_and_needs_no_network(runs, tmp_path):
    out = tmp_path / "report.html"
    result = invoke("report", runs["dcgan"], runs["pixelcnn"], "--out", out)
    assert result.exit_code == 0, result.output
    assert f"-> {out}" in result.output
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert page.open == [], "every element is closed"

    # self-contained: every image a data: URI, no address to fetch, the script inline
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.all("img"))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "@import" not in text and "url(http" not in text
    assert all("src" not in s for s in page.all("script"))

    # per run: facts, the spec, grids with a slider, curves, health
    for name, model, plugin in (("dcgan", "dcgan", "gen-gan"),
                                ("pixelcnn", "pixelcnn", "gen-autoregressive")):
        assert f">{name}</a>" in text
        assert model in text and plugin in text
    assert text.count("bundled-mnist, 1x16x16, 9000 images, 10 classes") >= 2
    assert "cpu, 1 process" in text and "6 of 6 (checkpoint at 6)" in text
    assert "gen 0.1.0" in text and "torch " in text
    assert text.count('<details class="spec">') == 2 and "&#34;g_features&#34;: 8" in text
    assert [i["id"] for i in page.all("input") if i["type"] == "range"] == [
        "grid-slider-0", "grid-slider-1"]
    assert text.count("step 6 (latest)") >= 2
    sides = text.count('class="side-title"')
    assert sides >= 1 and len(page.all("img")) == 2 * (1 + 3) + 2 * sides, (
        "per run: the large grid and 3 thumbnails; side by side: one per run and row")
    assert text.count("<svg") >= 8
    assert "d_loss" in text and "grad_norm" in text and "images per second" in text
    assert text.count("no warnings") == 2
    # each plot drawn over steps, images seen and wall time; the page shows one of them
    assert text.count('class="xv xv-step"') == text.count('class="xv xv-time"') >= 8
    assert [i["id"] for i in page.all("input") if i["type"] == "radio"] == [
        "x-step", "x-images", "x-time"]

    # the PixelCNN's scores: the plot marks best.pt, the table says how they were measured
    assert "best.pt (step 6)" in text
    assert "step 6: NLL 158.2 nats/image, measured n 1,000 · reference test · exact" in text
    assert "★ best" in text and "best.pt</td>" in text and "nats/image" in text
    # the comparison: a row per run, NLL in nats and bits/dim
    assert 'class="comparison"' in text
    table = text[text.index('<table class="comparison">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 3
    assert "158.2 nats · 0.8918 bits/dim" in table
    assert "Shared curves" in text and "Spec fields that differ" in text
    assert "<code>model.name</code>" in text


def test_the_python_api_takes_runs_or_paths_and_import_gen_stays_light(runs, tmp_path):
    out = gen.write_report([gen.load_run(runs["pixelcnn"]), runs["dcgan"]], tmp_path / "r.html")
    assert out == tmp_path / "r.html"
    assert 'content="gen report"' in out.read_text(encoding="utf-8")
    code = ("import sys, gen, gen.report, gen.cli.main; "
            "heavy = {'torch', 'matplotlib', 'jinja2'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_strings_from_a_run_are_escaped(runs, tmp_path):
    run = copy_run(runs, "dcgan", tmp_path, to="<b>dcgan&co")
    append(run, {"step": 6, "warning": {"rule": "blow-up", "message": "<script>alert(1)</script>"}},
           {"step": 6, "<i>loss</i>": 1.0, "$x_1$": 2.0, "_hidden": 3.0})
    text = write.render_report([run])
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>dcgan" not in text and "&lt;b&gt;dcgan&amp;co" in text
    assert "<i>loss" not in text and "&lt;i&gt;loss&lt;/i&gt;: 1 at step 6" in text
    assert "_hidden: 3 at step 6" in text, "a series of one point is a value, not a plot"


# --- runs in every state -------------------------------------------------------------------------


def test_a_run_in_progress_without_a_checkpoint_or_without_metrics(runs, tmp_path):
    training = copy_run(runs, "dcgan", tmp_path, to="training")
    shutil.rmtree(training / "checkpoints")
    report = collect.collect(gen.load_run(training))
    assert (report.step, report.logged_step, report.best) == (0, 6, None)
    assert "no checkpoint yet" in status(report) and "not finished" in status(report)
    text = write.render_report([training])
    assert "6 of 6 (no checkpoint yet)" in text and "<svg" in text

    grids_only = copy_run(runs, "dcgan", tmp_path, to="grids-only")
    (grids_only / "metrics.jsonl").unlink()
    text = write.render_report([grids_only])
    assert "no training log lines yet" in text and "no evaluations yet" in text
    assert text.count("data:image/png") == 4

    started = tmp_path / "started"
    started.mkdir()
    for name in ("run.json", "spec.json"):
        shutil.copy(runs["dcgan"] / name, started / name)
    text = write.render_report([started])
    assert "nothing logged yet" in text and "no sample grids yet" in text


def test_odd_records_are_shown_or_named_never_fatal(runs, tmp_path):
    run = copy_run(runs, "dcgan", tmp_path, to="odd")
    append(run,
           {"step": 7, "d_loss": float("nan"), "g_loss": 10**400, "note": "text", "flag": True},
           {"step": 7, "evaluation": "not a dict"},
           {"step": 7, "evaluation": {"metric": "fid", "value": "high"}},
           {"step": 7, "coverage": {"classes_covered": 3, "num_classes": 10, "kl": 1.2,
                                    "classifier_hash": HASH_A}},
           {"step": 7, "warning": {"rule": "mode-collapse", "message": "3 of 10 classes"}},
           {"step": 8, "warning": {"rule": "mode-collapse", "message": "2 of 10 classes"}},
           {"step": 8, "warning": {"rule": "discriminator-winning", "message": "D wins"}},
           "[1, 2]", "null", '{"step": "7"}')
    (run / "samples" / "step-000008.png").write_bytes(b"not a png")
    report = collect.collect(gen.load_run(run))
    assert "d_loss is not finite at step 7 (left out of its curve)" in report.notes
    assert any("2 evaluation record(s)" in n for n in report.notes)
    assert any("step-000008.png is not a PNG image" in n for n in report.notes)
    assert [w.rule for w in report.warnings] == ["mode-collapse"] * 2 + ["discriminator-winning"]
    text = write.render_report([run])
    assert "no warnings" not in text and "2 of 10 classes" in text and "7 to 8" in text
    assert "Class coverage" in text and "classes covered (of 10)" in text


def test_a_damaged_best_checkpoint_is_named_and_the_rest_shown(runs, tmp_path):
    run = copy_run(runs, "pixelcnn", tmp_path)
    (run / "checkpoints" / "best.pt").write_bytes(b"junk")
    report = collect.collect(gen.load_run(run))
    assert report.best is None and any("best.pt is not readable" in n for n in report.notes)
    assert report.scores and report.grids


# --- bad input, what is written ------------------------------------------------------------------


def test_a_path_that_is_not_a_run_is_one_error_line(runs, tmp_path):
    out = tmp_path / "r.html"
    result = invoke("report", runs["dcgan"], tmp_path / "nope", "--out", out)
    assert result.exit_code == 1
    assert result.output.strip() == f"error: run directory {tmp_path / 'nope'} does not exist"
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("report", empty, "--out", out)
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: {empty} is not a gen run directory "
                                     "(no gen run.json in it)")
    (tmp_path / "file").write_text("x")
    result = invoke("report", tmp_path / "file", "--out", out)
    assert result.exit_code == 2 and "error: " in result.output and "is a file" in result.output
    assert invoke("report", "--out", out).exit_code == 2
    assert not out.exists()


def test_out_must_be_an_html_file_of_gen_s(runs, tmp_path):
    theirs = tmp_path / "notes.html"
    theirs.write_text("<p>my notes</p>")
    cases = [(tmp_path / "r.txt", "--out must end in .html"),
             (tmp_path / "missing" / "r.html", "folder " + str(tmp_path / "missing")),
             (theirs, "exists and is not a report gen wrote")]
    for out, message in cases:
        result = invoke("report", runs["dcgan"], "--out", out)
        assert result.exit_code == 2 and message in result.output, result.output
    assert theirs.read_text() == "<p>my notes</p>"
    assert not (tmp_path / "missing").exists()
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(gen.UsageError, match="is a folder"):
        write.check_out(tmp_path / "dir.html")


def test_nothing_but_out_is_written(runs, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    run = copy_run(runs, "pixelcnn", root)
    (root / "site").mkdir()
    before = tree(root)
    out = root / "site" / "report.html"
    assert invoke("report", run, "--out", out).exit_code == 0
    after = tree(root)
    assert set(after) - set(before) == {"site/report.html"}
    assert {k: v for k, v in after.items() if k in before} == before
    assert invoke("report", run, "--out", out).exit_code == 0, "its own report is rewritten"
    assert set(tree(root)) == set(after)


def test_watch_rewrites_the_report(runs, tmp_path):
    run = copy_run(runs, "dcgan", tmp_path)
    out = tmp_path / "watched.html"
    seen = []

    def wrote(path):
        seen.append(path.read_text(encoding="utf-8"))
        append(run, {"step": 6 + len(seen), "warning": {"rule": "blow-up",
                                                        "message": f"note {len(seen)}"}})

    assert write.watch_report([run], out, 0.01, iterations=2, on_write=wrote) == out
    assert len(seen) == 2
    assert "no warnings" in seen[0] and "note 1" in seen[1]
    assert '<meta http-equiv="refresh" content="1">' in seen[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dcgan", "watched.html"]
    with pytest.raises(gen.UsageError, match="above 0"):
        write.watch_report([run], out, 0)


def test_every_option_of_gen_report_has_help():
    command = cli.commands["report"]
    options = [p for p in command.params if isinstance(p, click.Option)]
    assert {o.name for o in options} >= {"out", "watch"}
    assert all(o.help for o in options)
    assert command.help


def test_a_long_log_is_thinned_for_its_plot_and_keeps_its_spikes():
    from gen.report.plots import thin

    points = [(step, float(step % 7)) for step in range(100_000)]
    points[51_234] = (51_234, 1e6)
    kept = thin(points)
    assert len(kept) <= 2000 and kept == sorted(kept)
    assert (51_234, 1e6) in kept and min(v for _, v in kept) == 0.0
