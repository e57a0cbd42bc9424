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
@click.option("--labels", help="Conditional models: 'all' (one row per class) or a list "
              "of classes such as 0,3,7 (repeated to fill N).")
@click.option("--device", default="auto", show_default=True)
def sample(run_dir: str, num: int, seed: int, out: str | None, checkpoint: str,
           labels: str | None, device: str) -> None:
    """Draw N samples from the weights of a run."""
    if out is not None and Path(out).suffix.lower() not in (".png", ".npz"):
        raise GenError(f"--out must end in .png (a grid) or .npz (raw images), got {out!r}")

    from gen.images import save_grid, save_npz  # imports torch
    from gen.sampling import draw, load_run, parse_labels

    loaded = load_run(get_plugins(), Path(run_dir), checkpoint, device)
    wanted = nrow = None
    if labels is not None:
        wanted, nrow = parse_labels(labels, loaded.model, num)
        num = wanted.shape[0]
    images, drawn_labels = draw(loaded, num, seed, wanted)
    path = Path(out) if out else (
        Path(run_dir) / "samples" / f"sample-step-{loaded.step:06d}-seed-{seed}.png"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npz":
        save_npz(images, path, drawn_labels)
    else:
        save_grid(images, path, nrow)
    click.echo(f"{num} samples from step {loaded.step} -> {path}")
