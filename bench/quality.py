"""Sample quality of every installed model after a fixed CPU training budget -> docs/results.md.

Each model is trained with `gen train` on the bundled MNIST (its `train` part, 9,000 images) for
a stated number of steps on the CPU, then scored with `gen evaluate` against the held-out `test`
part (1,000 images): FID, KID, precision and recall in one space for every model
(``--space``, default the grey 28x28 digits: one `lenet` extractor, trained once by gen and
cached, one reference set, and each model's samples converted to that shape), and NLL (exact,
or importance-weighted with ``--iw-samples`` for VAEs) and the negative ELBO where the model
defines them, of p(x|y) for conditional models. Two rows of data stand in for models as
floors: the grey train part itself, and its binarised draw (what the binarised models learn).
Each row of the written table comes with the exact commands that reproduce it and says which
extractor, reference and conversion its scores used.

Budgets are steps, per model: ``--steps dcgan=400`` (repeatable), else ``--default-steps``.
The defaults are small, so that every installed model finishes in roughly 10-15 minutes on 2
CPU cores; they show that the pipeline works and how the models rank early, not converged
quality. Rows whose budget is less than one pass over the training data are marked as needing
a GPU for meaningful training, and models named in ``--needs-gpu`` are not trained at all
(their row says so) unless given ``--steps``.

    python bench/quality.py [--models gan,dcgan] [--steps gan=1000] [--n 1000] \\
        [--out docs/results.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN_IMAGES = 9000  # bundled MNIST's train part
QUALITY = "fid,kid,precision,recall"
LIKELIHOOD = {"latent-variable": "elbo,nll", "autoregressive": "nll"}
DEFAULT_STEPS = {"gan": 1000}  # MLPs: cheap steps; everything else: --default-steps
SPACE = "mnist-grey-28"


@dataclass
class Row:
    model: str
    kind: str
    steps: int | None
    batch_size: int | None = None
    train_s: float | None = None
    scores: dict[str, dict] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def epochs(self) -> float | None:
        if self.steps is None or self.batch_size is None:
            return None
        return self.steps * self.batch_size / TRAIN_IMAGES


def gen(*args: str) -> list[str]:
    return [sys.executable, "-m", "gen", *args]


def shown(cmd: list[str]) -> str:
    """A command as a user types it: `gen ...` rather than the interpreter's path."""
    return shlex.join(["gen", *cmd[3:]]) if cmd[:3] == gen() else shlex.join(cmd)


def run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"`{shown(cmd)}` failed: {last}")
    return proc.stdout


def installed(env: dict[str, str]) -> dict[str, str]:
    """Installed models by name -> kind."""
    return {m["name"]: m["kind"] for m in json.loads(run(gen("list-models", "--json"), env))}


def bench_model(name: str, kind: str, steps: int, args, runs: Path,
                env: dict[str, str]) -> Row:
    row = Row(name, kind, steps)
    out = runs / name
    shutil.rmtree(out, ignore_errors=True)  # this bench's own run of the model, from last time
    train = gen("train", name, "--out", str(out), "-q", "--set", f"train.steps={steps}",
                "--set", "train.device=cpu", "--set", f"train.seed={args.seed}")
    row.commands.append(shown(train))
    try:
        start = time.perf_counter()
        run(train, env)
        row.train_s = time.perf_counter() - start
        row.batch_size = json.loads((out / "spec.json").read_text())["train"]["batch_size"]
        common = ["--seed", str(args.seed), "--device", "cpu", "--json"]
        evals = [["--metrics", QUALITY, "--n", str(args.n), "--space", args.space, *common]]
        if kind in LIKELIHOOD:
            evals.append(["--metrics", LIKELIHOOD[kind], "--iw-samples", str(args.iw_samples),
                          *common])
        for options in evals:
            cmd = gen("evaluate", str(out), *options)
            row.commands.append(shown(cmd))
            row.scores.update({r["metric"]: r for r in json.loads(run(cmd, env))})
    except RuntimeError as exc:
        row.note = str(exc)
    if not row.note and row.epochs is not None and row.epochs < 1:
        row.note = (f"undertrained ({row.epochs:.2f} epochs): meaningful training needs a GPU "
                    "or a longer budget")
    return row


def data_rows(args) -> list[Row]:
    """The floors: ``--n`` images of the grey train part, and of its binarised draw, scored
    against the same reference features in the same space as every model."""
    import torch

    from gen.data.datasets import held_out, load_dataset
    from gen.evaluation.evaluate import parse_space
    from gen.evaluation.metrics.feature_distances import frechet_distance, kernel_distance
    from gen.evaluation.metrics.precision_recall import precision_recall
    from gen.evaluation.quality import QualityScorer, reference_record
    from gen.extractors.base import ExtractorRequest, build_extractor, extract
    from gen.plugins import get_plugins

    space = parse_space(args.space)
    reference = load_dataset(held_out(space, "test"))
    info = reference.info
    request = ExtractorRequest(data=space, channels=info.channels, image_size=info.image_size)
    extractor = build_extractor(get_plugins(), "lenet", request)
    real = QualityScorer.build(extractor, reference, args.n, args.seed).real
    provenance = {"extractor_hash": extractor.weights_hash, "conversion": "none",
                  **reference_record(args.space, space, "test", reference)}
    rows = []
    for binarize, what in [("none", "grey"), ("static", "binarised")]:
        train = load_dataset(held_out(space, "train").model_copy(update={"binarize": binarize}))
        seeded = torch.Generator().manual_seed(args.seed)
        order = torch.randperm(len(train.images), generator=seeded)
        fake = extract(extractor, train.images[order[: args.n]])
        precision, recall = precision_recall(real, fake)
        values = {"fid": frechet_distance(real, fake), "kid": kernel_distance(real, fake)[0],
                  "precision": precision, "recall": recall}
        row = Row(f"data: {what} train part", "data", None,
                  note=f"{args.n} images of the {what} train part, not a model")
        row.scores = {m: {"metric": m, "value": v, **provenance} for m, v in values.items()}
        rows.append(row)
    return rows


def fmt(row: Row, metric: str, digits: int = 3) -> str:
    r = row.scores.get(metric)
    if r is None:
        return ""
    given_y = r.get("quantity") == "-log p(x|y)"
    if metric == "nll":
        return f"{r['value']:.1f} ({r['bits_per_dim']:.3f} b/d)" + (", -log p(x\\|y)" * given_y)
    if metric == "elbo":
        return f"{r['value']:.1f}" + (", of p(x\\|y)" * given_y)
    return f"{r['value']:.{digits}f}"


def scored_in(row: Row) -> tuple[str, str]:
    """The row's space, reference split and extractor hash (short), and its conversion."""
    r = next((r for r in row.scores.values() if "extractor_hash" in r), None)
    if r is None:
        return "", ""
    data = r["reference_data"]
    where = (f"{r['space']}: {data['dataset']} {data['split']}, "
             f"lenet {r['extractor_hash'].removeprefix('sha256:')[:8]}")
    return where, r["conversion"]


def table(rows: list[Row]) -> list[str]:
    lines = ["| model | kind | steps | epochs | train wall s | FID | KID | precision | recall | "
             "NLL nats (bits/dim) | -ELBO nats | scored in (reference, extractor) | "
             "samples converted | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        epochs = f"{r.epochs:.2f}" if r.epochs is not None else ""
        wall = f"{r.train_s:.0f}" if r.train_s is not None else ""
        where, conversion = scored_in(r)
        lines.append(
            f"| {r.model} | {r.kind} | {r.steps or ''} | {epochs} | {wall} | {fmt(r, 'fid', 1)} "
            f"| {fmt(r, 'kid', 2)} | {fmt(r, 'precision')} | {fmt(r, 'recall')} "
            f"| {fmt(r, 'nll')} | {fmt(r, 'elbo', 1)} | {where} | {conversion} | {r.note} |"
        )
    return lines


def extractor_line(rows: list[Row]) -> str:
    """The extractor every quality score used, or, should they differ, that they do."""
    records = [r for row in rows for r in row.scores.values() if "extractor_hash" in r]
    hashes = sorted({r["extractor_hash"] for r in records})
    if len(hashes) != 1:
        return (f"features of {len(hashes)} different `lenet` extractors (see each row's "
                "hash): scores of rows with different hashes are not comparable")
    accuracy = next((r["extractor_test_accuracy"] for r in records
                     if "extractor_test_accuracy" in r), "?")
    return (f"features of one `lenet` extractor for every row ({hashes[0]}, test accuracy "
            f"{accuracy})")


def write(rows: list[Row], args, path: Path, wall: float) -> None:
    command = shlex.join(["python", "bench/quality.py", *sys.argv[1:]])
    lines = [
        "# Results",
        "",
        "Sample quality of each installed model after a small, fixed CPU training budget on the "
        "bundled MNIST (its 9,000-image `train` part), scored against its 1,000 held-out `test` "
        "images (at most `--n` of them per quality score). These numbers show the pipeline "
        "working and how the models rank early in training; they are not converged results. "
        "Generated by",
        "",
        f"```sh\n{command}\n```",
        "",
        f"on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"torch threads from OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"in {wall / 60:.1f} minutes in all.",
        "",
        f"- FID, KID, precision and recall (k=3) in one space, `--space {args.space}`: "
        f"`--n {args.n}` generated images against the same {args.n if args.n < 1000 else 1000} "
        f"grey 28x28 test images, {extractor_line(rows)}. The 32x32 models' samples are "
        "resized to 28x28 (antialiased bilinear); the binarised models (VAEs, autoregressive) "
        "draw black-and-white digits, scored as they are against grey digits, so their floor is "
        "the binarised data's row, not zero. FID and KID are on lenet's scale, not comparable "
        "with Inception-based numbers from papers. KID is the unbiased estimate (it can be "
        "slightly negative).",
        f"- NLL in nats per image and bits per dimension: exact for autoregressive models, "
        f"importance-weighted with K={args.iw_samples} for VAEs; -ELBO is the VAE's bound. "
        "Likelihoods are of each model's own (binarised 28x28) test images. Conditional models "
        "(marked -log p(x\\|y)) are scored given each image's label: not comparable with "
        "-log p(x).",
        "- Train wall time is the whole `gen train` process (start-up, data loading, the final "
        "checkpoint and sample grid included); the lenet extractor is trained once, during the "
        "first evaluation, outside it.",
        "",
        *table(rows),
        "",
        "## Reproduce a row",
        "",
    ]
    for r in rows:
        if r.commands:
            lines += [f"### {r.model}", "", "```sh", *r.commands, "```", ""]
    path.write_text("\n".join(lines))


def parse_steps(items: list[str]) -> dict[str, int]:
    steps = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.isdigit() or int(value) < 1:
            raise SystemExit(f"--steps takes MODEL=N with N >= 1, got {item!r}")
        steps[name] = int(value)
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated (default: every installed model)")
    ap.add_argument("--steps", action="append", default=[], metavar="MODEL=N",
                    help="training steps of one model (repeatable)")
    ap.add_argument("--default-steps", type=int, default=200,
                    help="steps of models not named in --steps (gan: 1000)")
    ap.add_argument("--needs-gpu", default="",
                    help="comma-separated models not trained here (unless in --steps)")
    ap.add_argument("--n", type=int, default=1000, help="generated images per evaluation")
    ap.add_argument("--iw-samples", type=int, default=100, help="K for a VAE's NLL")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--space", default=SPACE, help="gen evaluate --space for every model")
    ap.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the children")
    ap.add_argument("--runs", metavar="DIR", default="runs/quality",
                    help="the run directories (each model's is replaced)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results.md"))
    args = ap.parse_args()

    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(args.threads)
    models = installed(env)
    wanted = args.models.split(",") if args.models else sorted(models)
    unknown = [m for m in wanted if m not in models]
    if unknown:
        raise SystemExit(f"not installed: {', '.join(unknown)}; installed: {', '.join(models)}")
    steps = {**DEFAULT_STEPS, **parse_steps(args.steps)}
    needs_gpu = {m for m in args.needs_gpu.split(",") if m} - set(parse_steps(args.steps))
    runs = Path(args.runs)
    start = time.perf_counter()
    rows = data_rows(args)
    for name in wanted:
        if name in needs_gpu:
            rows.append(Row(name, models[name], None,
                            note="needs a GPU for meaningful training: not run on the CPU"))
            continue
        budget = steps.get(name, args.default_steps)
        print(f"{name}: {budget} steps ...", file=sys.stderr, flush=True)
        rows.append(bench_model(name, models[name], budget, args, runs, env))
        print("  " + table(rows[-1:])[-1], file=sys.stderr, flush=True)
    write(rows, args, Path(args.out), time.perf_counter() - start)
    print(f"wrote {args.out} ({len(rows)} rows, {(time.perf_counter() - start) / 60:.1f} min)")


if __name__ == "__main__":
    main()
