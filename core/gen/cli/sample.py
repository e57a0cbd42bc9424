"""gen sample RUN_DIR: draw images from any run of any family."""

from __future__ import annotations

from pathlib import Path

import click

from gen.errors import GenError
from gen.plugins import get_plugins


@click.command("sample")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-n", "num", type=click.IntRange(min=1), default=64, show_default=True,
              help="How many images.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False),
              help="A .png grid or a .npz array file (default RUN_DIR/samples/sample-...png).")
@click.option("--checkpoint", default="latest", show_default=True,
              help="'latest' or a step number.")
@click.option("--device", default="auto", show_default=True)
def sample(run_dir: str, num: int, seed: int, out: str | None, checkpoint: str,
           device: str) -> None:
    """Draw N samples from the weights of a run."""
    if out is not None and Path(out).suffix.lower() not in (".png", ".npz"):
        raise GenError(f"--out must end in .png (a grid) or .npz (raw images), got {out!r}")

    from gen.images import save_grid, save_npz  # imports torch
    from gen.sampling import draw, load_run

    loaded = load_run(get_plugins(), Path(run_dir), checkpoint, device)
    images, labels = draw(loaded, num, seed)
    path = Path(out) if out else (
        Path(run_dir) / "samples" / f"sample-step-{loaded.step:06d}-seed-{seed}.png"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npz":
        save_npz(images, path, labels)
    else:
        save_grid(images, path)
    click.echo(f"{num} samples from step {loaded.step} -> {path}")
