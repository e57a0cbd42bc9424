"""One leaderboard across families at equal compute: every model after the same CPU wall-clock
budget -> docs/results-budget.md, from the figures kept in bench/results-budget.json.

Each row is one model trained with `gen train` on the bundled MNIST (its `train` part, 9,000
images, at 32x32: every model takes that size; models that learn binarised digits keep their
spec's binarisation, static or dynamic, which the table's data column names) for ``--budget``
seconds of training time (``train.max_time``: the run stops there with a checkpoint, as after
Ctrl-C, and logs a ``stopped`` line), then scored with `gen evaluate` against the held-out `test`
part (1,000 images): FID, KID, precision and recall in one space for every row (``--space``,
default the grey 28x28 digits: one `lenet` extractor, trained once by gen and cached, before any
row trains; every model's samples are converted to that shape), and, for a model with the "nll"
capability (`gen list-models --json`), the NLL in bits/dim of the first ``--nll-limit`` test
images of its own data (exact for autoregressive models, importance-weighted with
``--iw-samples`` for VAEs and for flows' dequantisation, the variational bound for ddpm;
binarised and grey data give bits per dimension of different data, so compare NLL only within
one data column). A step budget favours the cheap networks; a time budget asks which model
gives the best samples for the same cost, which is what a user with one CPU and an afternoon
wants to know.

A row is ``MODEL`` (its spec's networks) or, for the adversarial family, ``MODEL:BACKBONE`` or
``MODEL:BACKBONE:sn`` (``model.backbone``: mlp, dcgan or resnet; ``model.spectral_norm``),
followed by any number of ``+SETTING``: a spec override ``+FIELD=VALUE`` (as ``--set`` takes
it) or one of the named recipes of ``RECIPES`` (``+r1``, ``+ema``, ``+ada``, ``+lecam``,
``+small`` ...), e.g. ``hinge:mlp+r1+ema+train.lr_schedule.total_steps=4000``; the table's
settings column lists them.
Each row records the steps it reached, its mean images/s, the whole `gen train` wall time and
its scores, with the exact commands that reproduce it. Rows run one at a time, or ``--jobs`` at
once (each with ``--threads`` threads): concurrent rows share the machine, a row's evaluation
may overlap another's training, and each row says how many ran together. A row that fails (a
spec the model refuses, such as spectral norm with wgan's weight clipping) says why in its note;
the script exits non-zero only when every row failed.

The figures are kept in ``--results`` (default bench/results-budget.json, committed): the rows
measured now replace the rows of the same name there and the others are kept, so new rows join
the leaderboard without re-running the old ones (``--fresh`` starts an empty file). Rows are
merged only with rows of the same budget, space and threads per row; the written table is
rendered from the whole file (``--render-only`` renders it without running anything). The 24
adversarial rows there come from the earlier run at commit af61562.

Sampling cost differs widely: a diffusion model draws with 50 network calls per image (DDIM-50,
flow matching's Heun-25), an autoregressive one with one pass per pixel (1,024 at 32x32), so
``--n`` (one for every row: FID depends on it) is what keeps each row's evaluation affordable.

The 24 adversarial rows at the default 300 s budget take about an hour at ``--jobs 2``; the
10 rows of the other families (``--rows new``) about 50 minutes at ``--jobs 2``, of which
ddpm's evaluation is the longest (1,000 DDIM-50 samples, and its bound at 1,000 network calls
for each of the ``--nll-limit`` images: about 20 minutes alone on one thread).

    python bench/budget.py [--rows gan:mlp,vae,ddpm] [--budget 300] [--jobs 1] \\
        [--threads 1] [--n 1000] [--nll-limit 100] [--out docs/results-budget.md] \\
        [--results bench/results-budget.json] [--fresh] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from _metrics import child_env  # bench/ is the script's folder: on sys.path
from quality import gen, shown

ROOT = Path(__file__).resolve().parents[1]
QUALITY = "fid,kid,precision,recall"
SPACE = "mnist-grey-28"
RESULTS = ROOT / "bench" / "results-budget.json"
NEVER = 100_000_000  # steps, sample and checkpoint intervals that the budget always cuts short
IMAGE_SIZE = 32
BACKBONES = ("mlp", "dcgan", "resnet")
ADVERSARIAL_ROWS = [
    "gan:mlp", "dcgan:dcgan", "dcgan:resnet",
    *(f"{m}:{b}" for m in ("lsgan", "wgan", "wgan-gp", "cgan", "acgan") for b in BACKBONES),
    "gan:mlp:sn", "dcgan:dcgan:sn", "dcgan:resnet:sn",
    "wgan-gp:mlp:sn", "wgan-gp:dcgan:sn", "wgan-gp:resnet:sn",
]
# Named settings a row can add with +NAME: the stabilisers of issue 22 at the values the docs
# suggest for small images and short runs.
RECIPES = {
    "r1": ["model.r1_gamma=0.1", "model.reg_every=16"],  # docs/quickstart.md's example
    "ema": ["train.ema.decay=0.999"],
    "cosine": ["train.lr_schedule.name=cosine", "train.lr_schedule.final=0.1"],
    "ada": ["model.ada_target=0.6", "model.ada_kimg=100"],  # kimg: lower for short runs
    "lecam": ["model.lecam_weight=0.3"],  # Tseng et al.'s BigGAN value
    "projection": ["model.conditioning=projection"],
    "small": ["data.limit=1000"],  # the data-efficient setting
}
NEW_ROWS = ["ddpm", "flow-matching", "vae", "cvae", "pixelcnn", "gated-pixelcnn", "row-lstm",
            "diagonal-bilstm", "realnvp", "glow"]
DEFAULT_ROWS = ADVERSARIAL_ROWS + NEW_ROWS
OBJECTIVES = {
    "gan": "non-saturating",
    "dcgan": "non-saturating",
    "lsgan": "least squares",
    "wgan": "Wasserstein (clipping)",
    "wgan-gp": "Wasserstein (gradient penalty)",
    "cgan": "non-saturating, conditional (cgan)",
    "acgan": "non-saturating + auxiliary classifier (acgan)",
}
# What every row of one results file shares; a row measured otherwise is not merged into it.
SHARED = ("budget_s", "space", "threads")


@dataclass
class Row:
    entry: str  # as given to --rows: MODEL[:BACKBONE[:sn]][+SETTING...]
    model: str
    backbone: str | None = None  # adversarial rows only (model.backbone)
    spectral_norm: bool = False
    settings: list[str] = field(default_factory=list)  # +SETTING parts, recipes by name
    kind: str = ""  # the model's family, from `gen list-models`
    data: str = ""  # e.g. "32x32 grey", "32x32 binarised (static)"
    steps: int | None = None
    train_s: float | None = None  # training time at the stop, from the `stopped` log line
    images_per_s: float | None = None  # images over time, from the log lines
    wall_s: float | None = None  # the whole `gen train` process
    eval_s: float | None = None  # the `gen evaluate` processes, together
    stopped: bool = False  # on its budget (a `stopped` line in metrics.jsonl)
    scores: dict[str, float] = field(default_factory=dict)  # fid, kid, precision, recall, nll
    bits_per_dim: float | None = None  # of the nll, where the model has one
    nll_estimator: str = ""
    scored_in: dict = field(default_factory=dict)  # space, reference, extractor and its hash
    n: int | None = None  # generated images of the quality scores
    nll_images: int | None = None  # test images of the nll
    commands: list[str] = field(default_factory=list)
    note: str = ""
    # where the row was measured: command, machine, commit, budget_s, threads, jobs, space
    measured: dict = field(default_factory=dict)

    @property
    def objective(self) -> str:
        return OBJECTIVES.get(self.model, self.model)

    @property
    def run_name(self) -> str:
        name = "_".join([self.model, *([self.backbone] if self.backbone else []),
                         *(["sn"] * self.spectral_norm), *self.settings])
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)

    @property
    def overrides(self) -> list[str]:
        """The row's settings as `--set` arguments, recipes expanded."""
        return [a for s in self.settings for o in RECIPES.get(s, [s]) for a in ("--set", o)]

    @property
    def failed(self) -> bool:
        return "fid" not in self.scores

    def record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> Row:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


def parse_row(entry: str) -> Row:
    network, *settings = entry.split("+")
    parts = network.split(":")
    if not 1 <= len(parts) <= 3 or not all(parts) or parts[2:] not in ([], ["sn"]):
        raise SystemExit(f"--rows takes MODEL, MODEL:BACKBONE or MODEL:BACKBONE:sn, each "
                         f"followed by any +SETTING, got {entry!r}")
    unknown = [s for s in settings if s not in RECIPES and "=" not in s]
    if unknown:
        raise SystemExit(f"--rows {entry!r}: {', '.join(unknown)} is neither FIELD=VALUE nor "
                         f"a recipe ({', '.join(RECIPES)})")
    return Row(entry, parts[0], parts[1] if len(parts) > 1 else None, len(parts) == 3,
               settings)


def parse_budget(text: str) -> float:
    """Seconds, or HH:MM:SS / MM:SS, as train.max_time takes them."""
    from gen.specs import clock_seconds  # pydantic only: no torch

    try:
        value = clock_seconds(text) if ":" in text else float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"seconds or HH:MM:SS above zero, got {text!r}")
    return value


def seconds(value: float) -> str:
    """300.0 -> "300", 1.5 -> "1.5" (never an exponent)."""
    return str(int(value)) if value.is_integer() else repr(value)


def run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1].strip()
        # the command is in the row's "Reproduce" section: its verb is enough here
        raise RuntimeError(f"`{' '.join(shlex.split(shown(cmd))[:2])}` failed: {last}")
    return proc.stdout


def prepare_extractor(space_name: str) -> None:
    """Train the space's lenet extractor now (or find it cached), so that its training never
    shares the CPU with a budgeted run, as it would in the first row's evaluation."""
    from gen.data.datasets import held_out, load_dataset
    from gen.evaluation.evaluate import parse_space
    from gen.extractors.base import ExtractorRequest, build_extractor
    from gen.plugins import get_plugins

    space = parse_space(space_name)
    info = load_dataset(held_out(space, "test")).info
    request = ExtractorRequest(data=space, channels=info.channels, image_size=info.image_size)
    build_extractor(get_plugins(), "lenet", request)


def read_log(row: Row, metrics: Path) -> None:
    """Steps, training time and images/s from the run's metrics.jsonl (training's lines: an
    evaluation appends its own; a line cut short is skipped by `read_metrics`)."""
    from gen.run.metrics_log import read_metrics  # no torch

    records = [r for r in read_metrics(metrics) if "evaluation" not in r]
    stop = next((r for r in reversed(records) if isinstance(r.get("stopped"), dict)
                 and r["stopped"].get("reason") == "max_time"), None)
    row.stopped = stop is not None
    if stop is not None:
        row.steps, row.train_s = stop["step"], stop["stopped"].get("train_s")
    elif records:
        row.steps = records[-1]["step"]
    row.images_per_s = images_per_s(records)


def images_per_s(records: list[dict]) -> float | None:
    """Images drawn per second over the whole run: each log line's rate weighted by the time
    since the line before (``elapsed_s``), i.e. all images drawn over all that time, not the
    mean of the rates (which overstates a run whose rate varies)."""
    images = seconds_logged = 0.0
    last = 0.0
    for r in records:
        rate, elapsed = r.get("images_per_s"), r.get("elapsed_s")
        if not isinstance(rate, int | float) or not isinstance(elapsed, int | float):
            continue
        images += rate * (elapsed - last)
        seconds_logged += elapsed - last
        last = elapsed
    return images / seconds_logged if seconds_logged > 0 else None


def data_settings(model: str, env: dict[str, str]) -> tuple[list[str], str]:
    """The data overrides of a row (every model at 32x32; the spec's own binarisation kept)
    and how the table names its data."""
    spec = json.loads(run(gen("spec", model), env))
    binarize = spec["data"]["binarize"]
    what = "grey" if binarize == "none" else f"binarised ({binarize})"
    return ["--set", f"data.image_size={IMAGE_SIZE}"], f"{IMAGE_SIZE}x{IMAGE_SIZE} {what}"


def row_commands(row: Row, args, out: Path, info: dict, data: list[str]) -> list[list[str]]:
    """The `gen train` and `gen evaluate` commands of a row (and its nll evaluation, for a
    model with a likelihood)."""
    network = []
    if row.backbone:
        network += ["--set", f"model.backbone={row.backbone}"]
    if row.spectral_norm:
        network += ["--set", "model.spectral_norm=true"]
    network += row.overrides
    common = ["--seed", str(args.seed), "--device", "cpu", "--json"]
    commands = [
        gen("train", row.model, "--out", str(out), "-q", *network,
            "--set", f"train.max_time={seconds(args.budget)}",
            "--set", f"train.steps={NEVER}", "--set", "train.device=cpu",
            "--set", f"train.seed={args.seed}", *data,
            "--set", f"train.sample_every={NEVER}",
            "--set", f"train.checkpoint_every={NEVER}", "--set", "train.log_every=10"),
        gen("evaluate", str(out), "--metrics", QUALITY, "--n", str(args.n),
            "--space", args.space, *common)]
    if "nll" in info.get("capabilities", []) and args.nll_limit:
        commands.append(gen("evaluate", str(out), "--metrics", "nll", "--limit",
                            str(args.nll_limit), "--iw-samples", str(args.iw_samples), *common))
    return commands


def bench_row(row: Row, args, runs: Path, env: dict[str, str], models: dict[str, dict]) -> Row:
    out = runs / row.run_name
    shutil.rmtree(out, ignore_errors=True)  # this bench's own run of the row, from last time
    row.n = args.n
    info = models.get(row.model)
    if info is None:
        row.note = f"model {row.model!r} is not installed"
        return row
    row.kind = info["kind"]
    notes = []
    try:
        data, row.data = data_settings(row.model, env)
        train, evaluate, *nll = row_commands(row, args, out, info, data)
        row.commands.append(shown(train))
        start = time.perf_counter()
        try:
            run(train, env)
        finally:
            row.wall_s = time.perf_counter() - start
            read_log(row, out / "metrics.jsonl")
        if not row.stopped:
            notes.append("did not stop on its budget (no `stopped` line in metrics.jsonl)")
        row.commands.append(shown(evaluate))
        start = time.perf_counter()
        records = json.loads(run(evaluate, env))
        row.scores = {r["metric"]: r["value"] for r in records}
        row.scored_in = provenance(records[0])
        if nll:
            row.commands.append(shown(nll[0]))
            record = json.loads(run(nll[0], env))[0]
            row.scores["nll"] = record["value"]
            row.bits_per_dim = record.get("bits_per_dim")
            row.nll_estimator = record.get("estimator", "")
            row.nll_images = record.get("images", args.nll_limit)
        row.eval_s = time.perf_counter() - start
    except RuntimeError as exc:
        notes.append(str(exc))
    row.note = "; ".join(notes)
    return row


def collect_row(row: Row, args, runs: Path, env: dict[str, str],
                models: dict[str, dict]) -> Row:
    """A row rebuilt from its run folder under ``runs`` (``--collect``): a bench stopped after
    some rows finished keeps them. Steps and images/s from the training lines, scores from the
    evaluation records `gen evaluate` appended (the last of each metric); the commands are
    those `bench_row` would have run."""
    from gen.run.metrics_log import read_metrics  # no torch

    out = runs / row.run_name
    metrics = out / "metrics.jsonl"
    info = models.get(row.model, {})
    row.kind, row.n = info.get("kind", ""), args.n
    if not metrics.is_file():
        row.note = f"not run ({out} has no metrics.jsonl)"
        return row
    data, row.data = data_settings(row.model, env)
    row.commands = [shown(c) for c in row_commands(row, args, out, info, data)]
    read_log(row, metrics)
    evaluations = [r["evaluation"] for r in read_metrics(metrics) if "evaluation" in r]
    for record in evaluations:
        row.scores[record["metric"]] = record["value"]
        if record["metric"] == "fid":
            row.scored_in = provenance(record)
        if record["metric"] == "nll":
            row.bits_per_dim = record.get("bits_per_dim")
            row.nll_estimator = record.get("estimator", "")
            row.nll_images = record.get("images")
    if "fid" not in row.scores:
        row.note = "not scored (the bench stopped before its evaluation)"
    return row


def provenance(record: dict) -> dict:
    return {k: record[k] for k in ("space", "reference_data", "conversion", "extractor",
                                   "extractor_hash", "extractor_test_accuracy") if k in record}


def fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def best_fid(rows: list[Row]) -> set[int]:
    """Indices of the rows with the lowest FID of their family."""
    best: dict[str, int] = {}
    for i, r in enumerate(rows):
        fid, held = r.scores.get("fid"), best.get(r.kind)
        if fid is not None and (held is None or fid < rows[held].scores["fid"]):
            best[r.kind] = i
    return set(best.values())


def leaderboard(rows: list[Row]) -> list[Row]:
    """Scored rows by FID, lowest first, then the failed ones."""
    return sorted(rows, key=lambda r: (r.failed, r.scores.get("fid", math.inf)))


def table_line(row: Row, rank: int | None = None, bold: bool = False) -> str:
    fid = fmt(row.scores.get("fid"), 1)
    fid = f"**{fid}**" if bold and fid else fid
    note = row.note.replace("|", "\\|")  # a note in a table cell
    nll = ""
    if row.bits_per_dim is not None:
        bound = "<= " if "bound" in row.nll_estimator else ""
        nll = f"{bound}{row.bits_per_dim:.3f}"
    return (f"| {'' if rank is None else rank} | {row.model} | {row.kind} | "
            f"{row.backbone or ''} | {'yes' if row.spectral_norm else ''} | "
            f"{' '.join(row.settings)} | {row.data} | "
            f"{row.steps or ''} | {fmt(row.images_per_s, 0)} | {fid} | "
            f"{fmt(row.scores.get('kid'), 2)} | {fmt(row.scores.get('precision'), 3)} | "
            f"{fmt(row.scores.get('recall'), 3)} | {nll} | {note} |")


def table(rows: list[Row]) -> list[str]:
    ordered = leaderboard(rows)
    best = best_fid(ordered)
    return ["| rank | model | family | backbone | spectral norm | settings | data | steps | "
            "images/s | FID | KID | precision | recall | NLL bits/dim | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *(table_line(r, None if r.failed else i + 1, i in best)
              for i, r in enumerate(ordered))]


def tables(rows: list[Row]) -> list[str]:
    """One ranked table per extractor the rows were scored with (one table when they share
    one): FIDs of two extractors are on two scales, so they are never ranked together. The
    table of the most families comes first."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.scored_in.get("extractor_hash", "not scored"), []).append(r)
    if len(groups) == 1:
        return table(rows)
    lines = []
    for digest, group in sorted(groups.items(), key=lambda g: -len({r.kind for r in g[1]})):
        accuracy = next((r.scored_in["extractor_test_accuracy"] for r in group
                         if "extractor_test_accuracy" in r.scored_in), "?")
        lines += [f"### Scored with lenet {digest[:19]}... (test accuracy {accuracy}), "
                  f"{len(group)} rows", "", *table(group), ""]
    return lines


def scored_with(rows: list[Row]) -> str:
    """The extractor every quality score used, or, should they differ, that they do."""
    hashes = sorted({r.scored_in["extractor_hash"] for r in rows
                     if "extractor_hash" in r.scored_in})
    if not hashes:
        return "the `lenet` extractor (no row was scored)"
    if len(hashes) != 1:
        return (f"features of {len(hashes)} different `lenet` extractors (see each row's hash "
                "in the results file): scores of rows with different hashes are not "
                "comparable")
    accuracy = next((r.scored_in["extractor_test_accuracy"] for r in rows
                     if "extractor_test_accuracy" in r.scored_in), "?")
    return (f"features of one `lenet` extractor for every row ({hashes[0]}, test accuracy "
            f"{accuracy})")


def shown_path(path: Path) -> str:
    """``path`` relative to the checkout where it lies in it (as the docs name files)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def machine() -> str:
    return f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"


def commit() -> str | None:
    proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "core",
                            "plugins", "bench"], capture_output=True, text=True).stdout.strip()
    return proc.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def sessions(rows: list[Row]) -> list[str]:
    """One line per distinct measurement session among the rows: its command, machine,
    commit, jobs and how many rows it gave."""
    seen: dict[str, list[Row]] = {}
    for r in rows:
        seen.setdefault(json.dumps(r.measured, sort_keys=True), []).append(r)
    lines = []
    for key, group in seen.items():
        m = json.loads(key)
        together = "one row at a time" if m.get("jobs", 1) == 1 else (
            f"{m['jobs']} rows at a time (they share the machine, and a row's evaluation may "
            "overlap another's training)")
        at = f" at commit {m['commit']}" if m.get("commit") else ""
        wall = f", {m['wall_s'] / 60:.1f} minutes in all" if m.get("wall_s") else ""
        note = f" {m['note']}" if m.get("note") else ""
        lines += [f"- {len(group)} row(s) ({', '.join(r.entry for r in group)}), "
                  f"{together}, on {m.get('machine', '?')}{at}{wall}:{note}", "",
                  f"  ```sh\n  {m.get('command', '?')}\n  ```", ""]
    return lines


def nll_text(meta: dict) -> str:
    """What the NLL column holds, where the rows were scored on it."""
    if not meta.get("nll_limit", 1):
        return " No NLL was measured (`--nll-limit 0`)."
    return (" NLL is in bits per dimension of the model's own test data (the first "
            f"{meta.get('nll_limit', '?')} test images): exact for autoregressive models, "
            "importance-weighted (K as `--iw-samples`) for VAEs and for flows (over their "
            "dequantisation noise), an upper bound (`<=`, the variational bound) for ddpm; "
            "binarised and grey data are different data, so compare NLL only within one data "
            "column.")


def recipes_used(rows: list[Row]) -> list[str]:
    """What each named setting of the settings column sets."""
    used = [name for name in RECIPES if any(name in r.settings for r in rows)]
    if not used:
        return []
    return ["The settings column's names stand for these overrides (`--set`); any other entry "
            "there is an override as written:", "",
            *(f"- `{name}`: " + ", ".join(f"`{o}`" for o in RECIPES[name]) for name in used),
            ""]


def write(rows: list[Row], meta: dict, path: Path, results: Path = RESULTS) -> None:
    threads = "thread" if meta["threads"] == 1 else "threads"
    ns = sorted({r.n for r in rows if r.n})
    n_text = " / ".join(map(str, ns)) or "?"
    across = ("One leaderboard across families: every model" if len({r.kind for r in rows}) > 1
              else "Every row")
    lines = [
        "# Results: quality at a fixed wall-clock budget",
        "",
        f"{across} trained on the bundled MNIST (its "
        f"9,000-image `train` part, at {IMAGE_SIZE}x{IMAGE_SIZE}; binarised for the models "
        "whose spec binarises, as the data column says) for the same wall-clock budget of "
        f"{seconds(meta['budget_s'])} s of training (`train.max_time`), on the CPU with "
        f"{meta['threads']} {threads} per row, then scored against the held-out `test` images "
        f"in one space, `--space {meta['space']}` (`--n {n_text}` generated images against "
        "as many of the 1,000 test digits, converted to grey 28x28: antialiased bilinear "
        f"resize), with {scored_with(rows)}. Rows are ranked by FID; the best FID of each "
        "family is in bold. Steps are those the row reached in its budget, each one "
        "optimisation step of the whole model (a GAN step is one generator update: wgan and "
        "wgan-gp make 5 critic updates, on 5 batches, per step), not comparable across "
        "models; images/s is the images drawn from the data per second of training (the "
        "first, warm-up, steps included). FID and KID are on lenet's scale, not comparable "
        "with Inception-based numbers from papers; KID is the unbiased estimate (it can be "
        "slightly negative). The binarised models draw black-and-white digits, scored as they "
        "are against grey digits, so their FID has a floor above zero (see docs/results.md's "
        f"data rows).{nll_text(meta)} The figures are kept in {shown_path(results)}; rows "
        "come from these sessions:",
        "",
        *sessions(rows),
        *recipes_used(rows),
        *tables(rows),
        "",
        "## Reproduce a row",
        "",
    ]
    for r in rows:
        if r.commands:
            lines += [f"### {r.entry}", "", "```sh", *r.commands, "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def load_results(path: Path) -> tuple[dict, list[Row]]:
    if not path.exists():
        return {}, []
    document = json.loads(path.read_text())
    return ({k: v for k, v in document.items() if k != "rows"},
            [Row.from_record(r) for r in document["rows"]])


def merge(kept: list[Row], new: list[Row]) -> list[Row]:
    """``kept`` with the rows of ``new`` in place of those of the same entry, the others
    appended in ``new``'s order."""
    fresh = {r.entry: r for r in new}
    merged = [fresh.pop(r.entry, r) for r in kept]
    return merged + [r for r in new if r.entry in fresh]


def save_results(path: Path, meta: dict, rows: list[Row]) -> None:
    document = {**meta, "rows": [r.record() for r in rows]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def installed(env: dict[str, str]) -> dict[str, dict]:
    """Installed models by name: kind and capabilities."""
    return {m["name"]: m for m in json.loads(run(gen("list-models", "--json"), env))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--rows", help="comma-separated MODEL, MODEL:BACKBONE or MODEL:BACKBONE:sn "
                    f"(default: all {len(DEFAULT_ROWS)}: {','.join(DEFAULT_ROWS)}); "
                    f"'new' is {','.join(NEW_ROWS)}, 'adversarial' the {len(ADVERSARIAL_ROWS)} "
                    "GAN rows")
    ap.add_argument("--budget", type=parse_budget, default=300.0, metavar="SECONDS",
                    help="training time of every row: seconds or HH:MM:SS (default 300)")
    ap.add_argument("--jobs", type=int, default=1, help="rows run at once (default 1)")
    ap.add_argument("--threads", type=int, default=1,
                    help="OMP_NUM_THREADS of each row's commands (default 1)")
    ap.add_argument("--n", type=int, default=1000, help="generated images per evaluation")
    ap.add_argument("--nll-limit", type=int, default=100, help="test images of each NLL "
                    "(gen evaluate --limit; 0: no NLL)")
    ap.add_argument("--iw-samples", type=int, default=100, help="K of a VAE's NLL")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--space", default=SPACE, help="gen evaluate --space for every row")
    ap.add_argument("--runs", metavar="DIR", default="runs/budget",
                    help="the run directories (each row's is replaced)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results-budget.md"))
    ap.add_argument("--results", default=str(RESULTS), help="the kept figures: rows measured "
                    "now replace those of the same name, the others stay (default %(default)s)")
    ap.add_argument("--fresh", action="store_true",
                    help="start --results empty instead of merging into it")
    ap.add_argument("--render-only", action="store_true",
                    help="run nothing: write --out from --results")
    ap.add_argument("--json-out", help="also write this run's rows alone, as JSON")
    ap.add_argument("--collect", action="store_true",
                    help="train nothing: rebuild the rows from their run folders under --runs "
                    "(a bench stopped part-way keeps the rows it finished)")
    ap.add_argument("--note", help="a sentence recorded with this session's rows (e.g. what "
                    "else shared the machine)")
    ap.add_argument("--measured-by", metavar="COMMAND", help="with --collect: the command "
                    "that trained and scored the rows, recorded as their session's command")
    args = ap.parse_args()
    if args.jobs < 1 or args.threads < 1 or args.nll_limit < 0:
        raise SystemExit("--jobs and --threads take a number >= 1, --nll-limit >= 0")

    results = Path(args.results)
    meta, kept = ({}, []) if args.fresh else load_results(results)
    if args.render_only:
        if not kept:
            raise SystemExit(f"{results}: no rows to render")
        write(kept, meta, Path(args.out), results)
        print(f"wrote {args.out} ({len(kept)} rows from {results})")
        return
    this = {"budget_s": args.budget, "space": args.space, "threads": args.threads}
    differ = [k for k in SHARED if k in meta and meta[k] != this[k]]
    if kept and differ:
        raise SystemExit(
            f"{results} holds rows measured with other settings ("
            + ", ".join(f"{k} {meta[k]} here, {this[k]} now" for k in differ)
            + "): use the same settings, another --results, or --fresh")

    groups = {"new": NEW_ROWS, "adversarial": ADVERSARIAL_ROWS}
    entries = ([e for part in args.rows.split(",") for e in groups.get(part, [part])]
               if args.rows else DEFAULT_ROWS)
    rows = [parse_row(e) for e in entries]
    doubled = sorted({r.run_name for r in rows if [s.run_name for s in rows].count(r.run_name) > 1})
    if doubled:
        raise SystemExit(f"--rows names a row twice: {', '.join(doubled)}")
    command = shlex.join(["python", "bench/budget.py", *sys.argv[1:]])
    env = child_env(args.threads)
    runs = Path(args.runs)
    models = installed(env)
    start = time.perf_counter()
    if not args.collect:
        prepare_extractor(args.space)
    print(f"{len(rows)} rows, {seconds(args.budget)} s each, {args.jobs} at a time, "
          f"{args.threads} thread(s) each", file=sys.stderr, flush=True)
    step = collect_row if args.collect else bench_row
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(step, r, args, runs, env, models) for r in rows]
        for done in as_completed(futures):
            print(table_line(done.result()), file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    session = {"command": command, "machine": machine(), "commit": commit(),
               "jobs": args.jobs, "wall_s": wall}
    if args.collect:
        session.update(command=args.measured_by or command, wall_s=None,
                       note=f"rows collected from their run folders by `{command}`")
    if args.note:
        session["note"] = " ".join(filter(None, [session.get("note"), args.note]))
    for r in rows:
        r.measured = session
    merged = merge(kept, rows)
    meta = {**this, "nll_limit": args.nll_limit, "iw_samples": args.iw_samples,
            "seed": args.seed}
    save_results(results, meta, merged)
    write(merged, meta, Path(args.out), results)
    if args.json_out:
        save_results(Path(args.json_out), {**meta, **session}, rows)
    hashes = sorted({r.scored_in["extractor_hash"] for r in merged
                     if "extractor_hash" in r.scored_in})
    if len(hashes) > 1:
        print(f"warning: {results} now holds rows scored with {len(hashes)} different lenet "
              f"extractors ({', '.join(h[:15] for h in hashes)}): their FIDs are not "
              "comparable; use the extractor cache ($GEN_CACHE/extractors/lenet) of the earlier "
              "rows, or re-run them (--fresh)", file=sys.stderr)
    failed = sum(r.failed for r in rows)
    print(f"wrote {args.out} and {results} ({len(rows)} rows measured, {failed} failed, "
          f"{len(merged)} in all, {wall / 60:.1f} min)")
    if failed == len(rows):
        sys.exit("every row failed")


if __name__ == "__main__":
    main()
