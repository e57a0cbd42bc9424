"""gen evaluate RUN_DIR: score a checkpoint against reference images or their statistics
(likelihoods, linear probe, FID, KID, precision and recall, Inception Score), optionally beside
the floor a perfect model would score."""

from __future__ import annotations

import json

import click
from click.core import ParameterSource
from rich.table import Table

from gen.arguments import MAX_SEED
from gen.cli.options import UserPath, checkpoint_option, device_option, sampling_options
from gen.cli.output import stdout_console
from gen.evaluation.conventions import CONVENTIONS, DEFAULT_CONVENTION
from gen.plugins import get_plugins
from gen.sampling_options import SamplingOptions, describe

METRIC_HELP = (
    "Comma-separated: nll (exact, or importance-weighted for VAEs), elbo, probe, and for any "
    "model that samples fid, kid, precision, recall, is (Inception Score: needs an extractor "
    "with class logits, e.g. inception). Default: what the model supports (fid, kid, "
    "precision, recall; nll for density models; elbo for lower-bound ones)."
)
CONVENTION_HELP = (
    "How images reach an extractor of a fixed input size (inception: 299x299): "
    "'torch-fidelity' (uint8 images resized inside, TensorFlow 1.x bilinear, as the original "
    "FID code) or 'clean-fid' (PIL bicubic on float values, Parmar et al. 2022). Recorded with "
    "every score. For numbers comparable with published tables: --extractor inception and the "
    "table's convention, e.g. --fid-convention clean-fid."
)
STATS_HELP = (
    "Score fid against a `gen stats` file (mean and covariance of reference features) instead "
    "of reference images: it must have been made with the same --extractor (and weights), "
    "--fid-convention and image shape. Serves fid and is; kid, precision and recall need the "
    "images."
)
FLOOR_HELP = (
    "Also score the reference against itself at the same n (two disjoint draws of n reference "
    "images; halves of a smaller reference): what a perfect model would get, printed in a "
    "'floor' column and recorded under 'floor'. For fid, kid, precision, recall (and is: the "
    "reference images' own score)."
)
SPACE_HELP = (
    "Where fid/kid/precision/recall are computed: 'run' (the run's own data and an extractor "
    "trained on it), 'mnist-grey-28' (grey 28x28 bundled MNIST, one space for every MNIST "
    "model: samples are resized and converted to it) or a JSON data spec such as "
    "'{\"dataset\": \"bundled-mnist\", \"image_size\": 28, \"channels\": 1}'."
)


@click.command("evaluate")
@click.argument("run_dir", type=UserPath(file_okay=False))
@click.option("--metrics", help=METRIC_HELP)
@click.option("--reference", "--split", "reference", default="test", show_default=True,
              help="The real images: 'test' or 'train' (the run's data set) or a folder of "
              "images, read like the run's data (same channels, image size and binarisation: "
              "converted where they differ).")
@click.option("-n", "--n", "num", type=click.IntRange(min=2), default=10_000, show_default=True,
              help="Generated images for fid/kid/precision/recall (and at most as many "
              "reference images).")
@click.option("--reference-stats", type=UserPath(dir_okay=False, allow_empty=True),
              help=STATS_HELP)
@click.option("--floor", is_flag=True, help=FLOOR_HELP)
@click.option("--space", default="run", show_default=True, help=SPACE_HELP)
@click.option("--extractor", default="lenet", show_default=True,
              help="Feature extractor for fid/kid/precision/recall/is (see `gen plugins`).")
@click.option("--fid-convention", type=click.Choice(CONVENTIONS), default=DEFAULT_CONVENTION,
              show_default=True, help=CONVENTION_HELP)
@click.option("--extractor-weights", type=UserPath(dir_okay=False),
              help="A weights file for the extractor (inception: "
              "pt_inception-2015-12-05-6726825d.pth; also $GEN_INCEPTION_WEIGHTS).")
@click.option("--iw-samples", type=click.IntRange(min=1),
              help="Importance samples K of an importance-weighted nll (a VAE's, a flow's): "
              "each is a network pass per image. Default: the model's own (1 for a flow, whose "
              "one-draw bound is nearly as tight), else 1000.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Images scored or drawn at a time.")
@click.option("--limit", type=click.IntRange(min=1),
              help="Use only the first N reference images.")
@checkpoint_option
@sampling_options
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=0, show_default=True,
              help="Seeds the generated images, the reference subset and sampled estimators.")
@device_option
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def evaluate(run_dir: str, metrics: str | None, reference: str, num: int,
             reference_stats: str | None, floor: bool, space: str, extractor: str,
             fid_convention: str, extractor_weights: str | None, iw_samples: int | None,
             batch_size: int, limit: int | None, checkpoint: str, sampler: str | None,
             steps: int | None, eta: float | None, guidance: float | None,
             truncation: float | None, seed: int, device: str, as_json: bool) -> None:
    """Score a run's weights; results are also appended to metrics.jsonl. An iterative model
    (diffusion) draws its samples with the sampler options given, or its defaults; the cost in
    network calls is stated before the work starts. --truncation draws the samples of a model
    with a truncatable latent with the truncation trick (recorded with the scores).
    --reference-stats scores fid against a `gen stats` file; --floor prints beside each score
    what a perfect model would get. A warning says when an FID's n is at or below the feature
    width, or when the run's metrics.jsonl holds the same scores at another n."""
    sampling = SamplingOptions(sampler, steps, eta, guidance, truncation, cli=True)
    from gen.evaluation.evaluate import (  # imports torch
        check_sampling,
        default_metrics,
        parse_space,
        record_evaluations,
    )
    from gen.evaluation.quality import QUALITY_METRICS
    from gen.evaluation.spaces import check_reference
    from gen.handle import load_run

    names = None if metrics is None else _metric_names(metrics)
    parse_space(space)
    check_reference(reference)
    run = load_run(run_dir, checkpoint, device)
    with run.plugin_code("sampling_defaults"):
        sampling.resolve(run.model)  # flags named as typed, before any work
    if names is None:
        names = default_metrics(run.model, num, extractor, space,
                                images=reference_stats is None)
        click.echo(f"metrics: {', '.join(names)} (all that {run.name} supports; choose with "
                   "--metrics)", err=True)
    check_sampling(run.model, names, sampling)
    if any(m in QUALITY_METRICS for m in names):  # an unknown name fails before any work
        get_plugins().registry.get_extractor(extractor)
    if reference not in ("test", "train") and space == "run" and not as_json:
        d = run.model.data
        click.echo(f"reference {reference}: images read as the run's data, {d.channels}x"
                   f"{d.image_size}x{d.image_size} (converted where they differ)", err=True)
    run.dir.check_links()  # where the records go: before the scoring, not after
    chosen = click.get_current_context().get_parameter_source("num") != ParameterSource.DEFAULT
    records = list(run.evaluate(
        names, n=num if chosen else None, reference=reference, space=space,
        extractor=extractor, extractor_weights=extractor_weights,
        fid_convention=fid_convention, reference_stats=reference_stats, floor=floor,
        iw_samples=iw_samples, batch_size=batch_size,
        limit=limit, seed=seed, record=False, progress=True,
        notes=lambda line: click.echo(line, err=True), **sampling.given()).values())
    if as_json:
        click.echo(json.dumps(records, indent=2))
    else:
        _print_table(records, run, reference, floor)
    record_evaluations(run.dir, run.step, records)  # after printing: never lost


def _metric_names(metrics: str) -> list[str]:
    from gen.evaluation.evaluate import METRICS

    names = [m.strip() for m in metrics.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown metric {unknown[0] if unknown else metrics!r}; known: {', '.join(METRICS)}",
            param_hint="--metrics",
        )
    return names


def _print_table(records: list[dict], run, reference: str, floor: bool = False) -> None:
    stats = next((r["reference_stats"] for r in records if "reference_stats" in r), None)
    title = f"reference statistics {stats['file']}" if stats else f"reference {reference}"
    table = Table("metric", "value", *(["floor"] if floor else []), "unit", "bits/dim",
                  "quantity", "estimator", "images", box=None,
                  title=f"{run.name} step {run.step}, {title}")
    for r in records:
        bpd = f"{r['bits_per_dim']:.4f}" if "bits_per_dim" in r else ""
        images = str(r["images"])
        if "real_images" in r:
            images = f"{r['generated_images']} generated, {r['real_images']} real"
        table.add_row(r["metric"], f"{r['value']:.4f}", *([_floor(r)] if floor else []),
                      r["unit"], bpd, r.get("quantity", ""), r["estimator"], images)
    console = stdout_console()
    console.print(table)
    seen = set()
    for r in records:
        if "extractor" in r and r["extractor"] not in seen:
            seen.add(r["extractor"])
            accuracy = r.get("extractor_test_accuracy")
            extra = f", test accuracy {accuracy:.4f}" if accuracy is not None else ""
            console.print(f"features: {r['extractor']} ({r['extractor_hash'][:19]}...{extra}), "
                          f"FID convention {r['fid_convention']}", markup=False, highlight=False)
            console.print(_space_line(r), markup=False, highlight=False)
    if stats:
        data = stats.get("data") or {}
        console.print(f"reference statistics: {stats['n']} images of {data.get('dataset')} "
                      f"{data.get('split')}, sha256 {stats['sha256'][:16]}...",
                      markup=False, highlight=False)
    drawn = next((r["sampling"] for r in records if r.get("sampling")), None)
    if drawn:  # the sampler settings (or truncation) the samples were drawn with
        console.print(f"sampling: {describe(drawn)}", markup=False, highlight=False)


def _floor(record: dict) -> str:
    """The floor beside a score, with its n where it is not the score's."""
    floor = record.get("floor")
    if floor is None:
        return ""
    at = "" if floor["n"] == record.get("real_images") else f" (n {floor['n']})"
    return f"{floor['value']:.4f}{at}"


def _space_line(record: dict) -> str:
    """Where the quality scores were computed: the space, its reference data, the conversion."""
    data = record["reference_data"]
    binary = ", binarised" if data["binary"] else ""
    return (f"space: {record['space']} ({data['dataset']} {data['split']}, {data['channels']}x"
            f"{data['image_size']}x{data['image_size']}{binary}); samples converted: "
            f"{record['conversion']}")
