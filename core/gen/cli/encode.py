"""gen encode RUN_DIR: a latent-variable model's posterior means for a data split, as .npz."""

from __future__ import annotations

from pathlib import Path

import click

from gen.plugins import get_plugins


@click.command("encode")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="A .npz file: `z` (N x latent_dim, float32) and `labels` when the data has "
              "them.")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N images.")
@click.option("--checkpoint", default="latest", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=512, show_default=True)
@click.option("--device", default="auto", show_default=True)
def encode(run_dir: str, split: str, out: str, limit: int | None, checkpoint: str,
           batch_size: int, device: str) -> None:
    """Write the posterior means of a data split (a VAE's features)."""
    if Path(out).suffix.lower() != ".npz":
        raise click.BadParameter(f"must end in .npz, got {out!r}", param_hint="--out")
    import numpy as np

    from gen.data.datasets import held_out, load_dataset
    from gen.fileio import atomic_write
    from gen.latent import encode_all, require_latent
    from gen.sampling import load_run

    loaded = load_run(get_plugins(), Path(run_dir), checkpoint, device)
    require_latent(loaded.model, "gen encode")
    data = load_dataset(held_out(loaded.spec.data, split, limit))
    arrays = {"z": encode_all(loaded.model, data, batch_size).float().numpy()}
    if data.labels is not None:
        arrays["labels"] = data.labels.numpy()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(out), write)
    click.echo(f"{len(arrays['z'])} x {arrays['z'].shape[1]} latents ({split} split) -> {out}")
