"""gen evaluate RUN_DIR: score a checkpoint on held-out data (likelihoods, linear probe)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from gen.plugins import get_plugins


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--metrics", default="nll", show_default=True,
              help="Comma-separated: nll (exact, or importance-weighted for VAEs), elbo, probe.")
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--iw-samples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Importance samples K for the nll of latent-variable models.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N images.")
@click.option("--checkpoint", default="latest", show_default=True,
              help="'latest' or a step number.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def evaluate(run_dir: str, metrics: str, split: str, iw_samples: int, batch_size: int,
             limit: int | None, checkpoint: str, seed: int, device: str, as_json: bool) -> None:
    """Score a run's weights on a held-out split; results are also appended to metrics.jsonl."""
    from gen.evaluation import METRICS, evaluate  # imports torch
    from gen.sampling import load_run

    names = [m.strip() for m in metrics.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown metric {unknown[0] if unknown else metrics!r}; known: {', '.join(METRICS)}",
            param_hint="--metrics",
        )
    loaded = load_run(get_plugins(), Path(run_dir), checkpoint, device)
    records = evaluate(loaded, Path(run_dir), names, split, iw_samples, batch_size, limit, seed)
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    table = Table("metric", "value", "unit", "bits/dim", "estimator", "images", box=None,
                  title=f"{loaded.spec.model.name} step {loaded.step}, {split} split")
    for r in records:
        bpd = f"{r['bits_per_dim']:.4f}" if "bits_per_dim" in r else ""
        table.add_row(r["metric"], f"{r['value']:.4f}", r["unit"], bpd, r["estimator"],
                      str(r["images"]))
    Console().print(table)
