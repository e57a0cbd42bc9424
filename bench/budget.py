"""Sample quality of the adversarial models and backbones after the same CPU wall-clock budget
-> docs/results-budget.md.

Each row is one adversarial objective on one backbone (``model.backbone``: mlp, dcgan or
resnet), with or without spectral norm (``model.spectral_norm``), trained with `gen train` on
the bundled MNIST (its `train` part, 9,000 images, at 32x32) for ``--budget`` seconds of
training time (``train.max_time``: the run stops there with a checkpoint, as after Ctrl-C, and
logs a ``stopped`` line), then scored with `gen evaluate` against the held-out `test` part
(1,000 images): FID, KID, precision and recall in one space for every row (``--space``, default
the grey 28x28 digits: one `lenet` extractor, trained once by gen and cached, before any row
trains). A step budget favours the cheap networks; a time budget asks which objective and
backbone give the best samples for the same cost, which is what a user with one CPU and an
afternoon wants to know.

Each row records the steps it reached, its mean images/s, the whole `gen train` wall time and
the four scores, and the written table comes with the exact commands of every row; a JSON file
(``--json-out``) keeps the same figures for later use. Rows run one at a time, or ``--jobs``
at once (each with ``--threads`` threads): concurrent rows share the machine, a row's
evaluation may overlap another's training, and the file says how many ran together. A row
that fails (a spec the model refuses, such as spectral norm with wgan's weight clipping) says
why in its note; the script exits non-zero only when every row failed.

The default 24 rows at the default 300 s budget take about two hours at ``--jobs 1`` (plus
each row's start-up and evaluation).

    python bench/budget.py [--rows gan:mlp,wgan-gp:dcgan:sn] [--budget 300] [--jobs 1] \\
        [--threads 1] [--n 1000] [--out docs/results-budget.md] \\
        [--json-out runs/budget/results.json]
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _metrics import child_env  # bench/ is the script's folder: on sys.path
from quality import extractor_line, gen, shown

ROOT = Path(__file__).resolve().parents[1]
QUALITY = "fid,kid,precision,recall"
SPACE = "mnist-grey-28"
NEVER = 100_000_000  # steps, sample and checkpoint intervals that the budget always cuts short
BACKBONES = ("mlp", "dcgan", "resnet")
DEFAULT_ROWS = [
    "gan:mlp", "dcgan:dcgan", "dcgan:resnet",
    *(f"{m}:{b}" for m in ("lsgan", "wgan", "wgan-gp", "cgan", "acgan") for b in BACKBONES),
    "gan:mlp:sn", "dcgan:dcgan:sn", "dcgan:resnet:sn",
    "wgan-gp:mlp:sn", "wgan-gp:dcgan:sn", "wgan-gp:resnet:sn",
]
OBJECTIVES = {
    "gan": "non-saturating",
    "dcgan": "non-saturating",
    "lsgan": "least squares",
    "wgan": "Wasserstein (clipping)",
    "wgan-gp": "Wasserstein (gradient penalty)",
    "cgan": "non-saturating, conditional (cgan)",
    "acgan": "non-saturating + auxiliary classifier (acgan)",
}


@dataclass
class Row:
    entry: str  # as given to --rows: MODEL:BACKBONE[:sn]
    model: str
    backbone: str
    spectral_norm: bool
    steps: int | None = None
    train_s: float | None = None  # training time at the stop, from the `stopped` log line
    images_per_s: float | None = None  # mean of the log lines' images_per_s
    wall_s: float | None = None  # the whole `gen train` process
    stopped: bool = False  # on its budget (a `stopped` line in metrics.jsonl)
    scores: dict[str, dict] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def objective(self) -> str:
        return OBJECTIVES.get(self.model, self.model)

    @property
    def run_name(self) -> str:
        return "_".join([self.model, self.backbone, *(["sn"] * self.spectral_norm)])

    @property
    def failed(self) -> bool:
        return "fid" not in self.scores


def parse_row(entry: str) -> Row:
    parts = entry.split(":")
    if len(parts) not in (2, 3) or not all(parts) or parts[2:] not in ([], ["sn"]):
        raise SystemExit(f"--rows takes MODEL:BACKBONE or MODEL:BACKBONE:sn, got {entry!r}")
    return Row(entry, parts[0], parts[1], len(parts) == 3)


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


def bench_row(row: Row, args, runs: Path, env: dict[str, str]) -> Row:
    out = runs / row.run_name
    shutil.rmtree(out, ignore_errors=True)  # this bench's own run of the row, from last time
    train = gen("train", row.model, "--out", str(out), "-q",
                "--set", f"model.backbone={row.backbone}",
                *(["--set", "model.spectral_norm=true"] if row.spectral_norm else []),
                "--set", f"train.max_time={seconds(args.budget)}", "--set", f"train.steps={NEVER}",
                "--set", "train.device=cpu", "--set", f"train.seed={args.seed}",
                "--set", "data.image_size=32", "--set", f"train.sample_every={NEVER}",
                "--set", f"train.checkpoint_every={NEVER}", "--set", "train.log_every=10")
    row.commands.append(shown(train))
    evaluate = gen("evaluate", str(out), "--metrics", QUALITY, "--n", str(args.n),
                   "--space", args.space, "--seed", str(args.seed), "--device", "cpu", "--json")
    notes = []
    try:
        start = time.perf_counter()
        try:
            run(train, env)
        finally:
            row.wall_s = time.perf_counter() - start
            read_log(row, out / "metrics.jsonl")
        if not row.stopped:
            notes.append("did not stop on its budget (no `stopped` line in metrics.jsonl)")
        row.commands.append(shown(evaluate))
        row.scores = {r["metric"]: r for r in json.loads(run(evaluate, env))}
    except RuntimeError as exc:
        notes.append(str(exc))
    row.note = "; ".join(notes)
    return row


def fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def score(row: Row, metric: str) -> float | None:
    r = row.scores.get(metric)
    return None if r is None else r["value"]


def best_fid(rows: list[Row]) -> set[int]:
    """Indices of the rows with the lowest FID of their objective."""
    best: dict[str, int] = {}
    for i, r in enumerate(rows):
        fid, held = score(r, "fid"), best.get(r.objective)
        if fid is not None and (held is None or fid < score(rows[held], "fid")):
            best[r.objective] = i
    return set(best.values())


def table_line(row: Row, bold: bool = False) -> str:
    fid = fmt(score(row, "fid"), 1)
    fid = f"**{fid}**" if bold and fid else fid
    note = row.note.replace("|", "\\|")  # a note in a table cell
    return (f"| {row.model} | {row.objective} | {row.backbone} | "
            f"{'yes' if row.spectral_norm else 'no'} | {row.steps or ''} | "
            f"{fmt(row.images_per_s, 0)} | {fid} | {fmt(score(row, 'kid'), 2)} | "
            f"{fmt(score(row, 'precision'), 3)} | {fmt(score(row, 'recall'), 3)} | "
            f"{note} |")


def table(rows: list[Row]) -> list[str]:
    best = best_fid(rows)
    return ["| model | objective | backbone | spectral norm | steps | images/s | FID | KID | "
            "precision | recall | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *(table_line(r, i in best) for i, r in enumerate(rows))]


def scored_with(rows: list[Row]) -> str:
    if all(r.failed for r in rows):
        return "the `lenet` extractor (no row was scored)"
    return extractor_line(rows)


def machine() -> str:
    return f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"


def write(rows: list[Row], args, path: Path, command: str, wall: float) -> None:
    threads = "thread" if args.threads == 1 else "threads"
    together = "one row at a time" if args.jobs == 1 else (
        f"{args.jobs} rows at a time (they share the machine, and a row's evaluation may "
        "overlap another's training)")
    lines = [
        "# Results: quality at a fixed wall-clock budget",
        "",
        "Sample quality of the adversarial objectives on each backbone (mlp, dcgan, resnet), "
        "with and without spectral norm, each row trained on the bundled MNIST (its 9,000-image "
        f"`train` part, at 32x32) for the same wall-clock budget of {seconds(args.budget)} s of "
        f"training (`train.max_time`), on the CPU with {args.threads} {threads} per row, "
        f"{together}. Each is then scored against the "
        f"{args.n if args.n < 1000 else 1000} held-out `test` images in one space, "
        f"`--space {args.space}` (`--n {args.n}` generated images, resized from 32x32 to 28x28, "
        f"antialiased bilinear), with {scored_with(rows)}. Steps are those the row reached "
        "in its budget, each one generator update (wgan and wgan-gp make 5 critic updates, on 5 "
        "batches, per step, the others 1: steps are not comparable across objectives); "
        "images/s is the images drawn from the data per second of training (the first, "
        "warm-up, steps included). The best FID of each objective is in bold. FID and KID are "
        "on lenet's scale, not comparable with Inception-based numbers from papers; KID is "
        "the unbiased estimate (it can be slightly negative). Generated by",
        "",
        f"```sh\n{command}\n```",
        "",
        f"on {machine()}, in {wall / 60:.1f} minutes in all.",
        "",
        *table(rows),
        "",
        "## Reproduce a row",
        "",
    ]
    for r in rows:
        lines += [f"### {r.entry}", "", "```sh", *r.commands, "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def write_json(rows: list[Row], args, path: Path, command: str, wall: float) -> None:
    figures = []
    for r in rows:
        record = {k: v for k, v in asdict(r).items() if k != "scores"}
        record["objective"] = r.objective
        record["run"] = str(Path(args.runs) / r.run_name)
        record["scores"] = {m: s["value"] for m, s in r.scores.items()}
        provenance = next(iter(r.scores.values()), {})
        record["scored_in"] = {k: provenance[k] for k in (
            "space", "reference_data", "conversion", "extractor", "extractor_hash",
            "extractor_test_accuracy") if k in provenance}
        figures.append(record)
    document = {"command": command, "machine": machine(), "budget_s": args.budget,
                "threads": args.threads, "jobs": args.jobs, "n": args.n, "seed": args.seed,
                "space": args.space, "wall_s": wall, "rows": figures}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--rows", help="comma-separated MODEL:BACKBONE or MODEL:BACKBONE:sn "
                    f"(default: the {len(DEFAULT_ROWS)} rows {','.join(DEFAULT_ROWS)})")
    ap.add_argument("--budget", type=parse_budget, default=300.0, metavar="SECONDS",
                    help="training time of every row: seconds or HH:MM:SS (default 300)")
    ap.add_argument("--jobs", type=int, default=1, help="rows run at once (default 1)")
    ap.add_argument("--threads", type=int, default=1,
                    help="OMP_NUM_THREADS of each row's commands (default 1)")
    ap.add_argument("--n", type=int, default=1000, help="generated images per evaluation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--space", default=SPACE, help="gen evaluate --space for every row")
    ap.add_argument("--runs", metavar="DIR", default="runs/budget",
                    help="the run directories (each row's is replaced)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results-budget.md"))
    ap.add_argument("--json-out", default="runs/budget/results.json",
                    help="every row's figures, as JSON")
    args = ap.parse_args()
    if args.jobs < 1 or args.threads < 1:
        raise SystemExit("--jobs and --threads take a number >= 1")

    entries = args.rows.split(",") if args.rows else DEFAULT_ROWS
    rows = [parse_row(e) for e in entries]
    doubled = sorted({r.run_name for r in rows if [s.run_name for s in rows].count(r.run_name) > 1})
    if doubled:
        raise SystemExit(f"--rows names a row twice: {', '.join(doubled)}")
    command = shlex.join(["python", "bench/budget.py", *sys.argv[1:]])
    env = child_env(args.threads)
    runs = Path(args.runs)
    start = time.perf_counter()
    prepare_extractor(args.space)
    print(f"{len(rows)} rows, {seconds(args.budget)} s each, {args.jobs} at a time, "
          f"{args.threads} thread(s) each", file=sys.stderr, flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(bench_row, r, args, runs, env) for r in rows]
        for done in as_completed(futures):
            print(table_line(done.result()), file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    write(rows, args, Path(args.out), command, wall)
    write_json(rows, args, Path(args.json_out), command, wall)
    failed = sum(r.failed for r in rows)
    print(f"wrote {args.out} and {args.json_out} ({len(rows)} rows, {failed} failed, "
          f"{wall / 60:.1f} min)")
    if failed == len(rows):
        sys.exit("every row failed")


if __name__ == "__main__":
    main()
