"""gen sample RUN_DIR: draw images from any run of any family (or, for a VAE, reconstruct and
interpolate held-out images)."""

from __future__ import annotations

from pathlib import Path

import click

from gen.errors import GenError, UsageError, WriteError


@click.command("sample")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-n", "num", type=click.IntRange(min=1), default=64, show_default=True,
              help="How many images (with --interpolate: rows).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False),
              help="A .png grid or a .npz array file (default RUN_DIR/samples/...png).")
@click.option("--checkpoint", default="latest", show_default=True,
              help="'latest', 'best' (kept by train.eval_every) or a step number.")
@click.option("--labels", help="Conditional models: 'all' (one row per class) or a list "
              "of classes such as 0,3,7 (repeated to fill N).")
@click.option("--reconstruct", is_flag=True,
              help="Latent-variable models: rows of held-out images, each followed by their "
              "reconstructions.")
@click.option("--interpolate", is_flag=True,
              help="Latent-variable models: N rows decoding the line between the latents of "
              "two held-out images.")
@click.option("--device", default="auto", show_default=True)
def sample(run_dir: str, num: int, seed: int, out: str | None, checkpoint: str,
           labels: str | None, reconstruct: bool, interpolate: bool, device: str) -> None:
    """Draw N samples from the weights of a run."""
    if out is not None and Path(out).suffix.lower() not in (".png", ".npz"):
        raise GenError(f"--out must end in .png (a grid) or .npz (raw images), got {out!r}")
    if sum([reconstruct, interpolate, labels is not None]) > 1:
        raise UsageError("--labels, --reconstruct and --interpolate exclude each other")

    from gen.images import save_grid, save_npz  # imports torch
    from gen.run.handle import load_run
    from gen.sampling import class_cycle, parse_labels

    run = load_run(run_dir, checkpoint, device)
    mode = "reconstruct" if reconstruct else "interpolate" if interpolate else "sample"
    nrow = drawn_labels = None
    if mode == "sample":
        if labels is not None:
            drawn_labels, nrow = parse_labels(labels, run.model, num)
            num = drawn_labels.shape[0]
        else:
            drawn_labels = class_cycle(run.model, num)
        images = run.sample(num, seed, drawn_labels)
    else:
        images, nrow = _held_out_grid(run, mode, num, seed)
    default = f"{mode}-step-{run.step:06d}-seed-{seed}.png"
    path = Path(out) if out else run.path / "samples" / default
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise GenError(f"--out: cannot make folder {path.parent}: a file is in the way") from None
    except OSError as exc:
        raise WriteError(path.parent, exc) from None
    if path.suffix.lower() == ".npz":
        save_npz(images, path, drawn_labels)
    else:
        save_grid(images, path, nrow)
    click.echo(f"{images.shape[0]} images ({mode}) from step {run.step} -> {path}")


def _held_out_grid(run, mode: str, num: int, seed: int):
    from gen.data.datasets import held_out, load_dataset
    from gen.latent import interpolation_grid, pick, reconstruction_grid, require_latent

    require_latent(run.model, f"--{mode}")
    data = load_dataset(held_out(run.spec.data, "test"))
    count = min(num, data.images.shape[0]) if mode == "reconstruct" else 2 * num
    images, labels = pick(data, count, seed, run.model.device)
    if mode == "reconstruct":
        return reconstruction_grid(run.model, images, labels)
    return interpolation_grid(run.model, images, labels)
