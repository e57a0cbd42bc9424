"""gen encode RUN_DIR: a latent-variable model's posterior means for a data split, as .npz."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gen.cli.interrupt import terminate_as_interrupt
from gen.cli.options import UserPath, checkpoint_option, device_option
from gen.errors import UsageError


@click.command("encode")
@click.argument("run_dir", type=UserPath(file_okay=False))
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True,
              help="Which part of the run's data set to encode.")
@click.option("--out", type=UserPath(dir_okay=False), required=True,
              help="A .npz file: `z` (N x latent_dim, float32) and `labels` when the data has "
              "them (an existing file only with --force).")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N images.")
@checkpoint_option
@click.option("--batch-size", type=click.IntRange(min=1), default=512, show_default=True,
              help="Images encoded at a time.")
@device_option
@terminate_as_interrupt()
def encode(run_dir: str, split: str, out: str, force: bool, limit: int | None,
           checkpoint: str, batch_size: int, device: str) -> None:
    """Write the posterior means of a data split (a VAE's features)."""
    if Path(out).suffix.lower() != ".npz":
        raise click.BadParameter(f"must end in .npz, got {out!r}", param_hint="--out")
    if os.path.lexists(out) and not force:
        raise UsageError(f"--out {out} exists; pass --force to replace it")
    import numpy as np

    from gen.fileio import atomic_write, make_folder, unmade_on_failure
    from gen.handle import load_run

    made: list[Path] = []  # before the work: a file in the way is said first
    with unmade_on_failure(made):
        make_folder(Path(out).parent, made)
        z, labels = load_run(run_dir, checkpoint, device).encode(split, limit, batch_size)
        arrays = {"z": z.float().numpy()}
        if labels is not None:
            arrays["labels"] = labels.numpy()

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        atomic_write(Path(out), write)
    click.echo(f"{len(arrays['z'])} x {arrays['z'].shape[1]} latents ({split} split) -> {out}")
