"""gen sample RUN_DIR: draw images from any run of any family, interpolate between latents (a
model with one) or, for a VAE, reconstruct and interpolate held-out images."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gen.arguments import MAX_SEED
from gen.cli.interrupt import terminate_as_interrupt
from gen.cli.options import UserPath, checkpoint_option, device_option, sampling_options
from gen.cli.sample_out import is_folder, npz_shape, out_path
from gen.errors import GenError, UsageError
from gen.fileio import make_folder, unmade_on_failure
from gen.sampling_options import SamplingOptions, describe

MAX_GRID = 10_000  # images in one .png grid; more go to an .npz file


@click.command("sample")
@click.argument("run_dir", type=UserPath(file_okay=False))
@click.option("-n", "num", type=click.IntRange(min=1), default=64, show_default=True,
              help="How many images (with --interpolate: rows).")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=0, show_default=True,
              help="Seed of the latents: the same seed draws the same images.")
@click.option("--out", type=UserPath(),
              help="A .png grid or a .npz array file (an existing file only with --force), "
              "or a folder (ending in / or existing) of one PNG per image, 000000.png, ... "
              "(default RUN_DIR/samples/...png).")
@click.option("--force", is_flag=True, help="Replace --out if it is an existing file (PNGs "
              "already in a folder are never replaced).")
@checkpoint_option
@click.option("--labels", help="Conditional models: 'all' (one row per class) or a list "
              "of classes such as 0,3,7 or, where the data named them, cats,dogs (repeated "
              "to fill N); the classes drawn are printed with their names.")
@click.option("--reconstruct", is_flag=True,
              help="Latent-variable models: rows of held-out images, each followed by their "
              "reconstructions.")
@click.option("--interpolate", is_flag=True,
              help="N rows of 10 images: for a model with a latent (GANs, VAEs, flows) the "
              "spherical interpolation between two latents drawn from --seed, one class per "
              "row for a conditional model; for a model that encodes (VAEs) the line between "
              "the latents of two held-out images (see --between).")
@click.option("--between", type=click.Choice(["images", "latents"]), default=None,
              help="With --interpolate: 'images' (held-out images' encodings; the default for "
              "models that encode and decode) or 'latents' (drawn latents, slerp; the default "
              "for the others).")
@click.option("--temperature", type=click.FloatRange(min=0), default=None,
              help="Models whose sample() takes a temperature (flows): scale the prior's "
              "spread (below 1: smoother, more typical images). Recorded in the default file "
              "name and in an .npz.")
@sampling_options
@device_option
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Images drawn at a time: memory holds one batch (and, for a .png, the grid).")
@terminate_as_interrupt()
def sample(run_dir: str, num: int, seed: int, out: str | None, force: bool, checkpoint: str,
           labels: str | None, reconstruct: bool, interpolate: bool, between: str | None,
           temperature: float | None, sampler: str | None, steps: int | None,
           eta: float | None, guidance: float | None, truncation: float | None, device: str,
           batch_size: int) -> None:
    """Draw N samples from the weights of a run. An iterative model (diffusion) draws with the
    sampler, steps, eta and guidance given, or its defaults; a model with a truncatable latent
    (GANs, VAEs, flows) with --truncation. The settings used are recorded in the default file
    name and in an .npz."""
    folder = out is not None and is_folder(out)
    if out is not None and not folder and Path(out).suffix.lower() not in (".png", ".npz"):
        raise UsageError(f"--out must end in .png (a grid) or .npz (raw images), or in / for a "
                         f"folder of PNGs, got {out!r}")
    if out is not None and not folder and os.path.lexists(out) and not force:
        raise UsageError(f"--out {out} exists; pass --force to replace it")
    if reconstruct and (interpolate or labels is not None):
        raise UsageError("--reconstruct excludes --labels and --interpolate")
    if between is not None and not interpolate:
        raise UsageError("--between applies to --interpolate")
    if temperature is not None and (reconstruct or interpolate):
        raise UsageError("--temperature applies to drawn samples, not --reconstruct or "
                         "--interpolate")
    sampling = SamplingOptions(sampler, steps, eta, guidance, truncation, cli=True)
    others = [k for k in sampling.given() if k != "truncation" or reconstruct]
    if others and (reconstruct or interpolate):
        raise UsageError(f"{sampling.flag(others[0])} applies to drawn samples, not "
                         "--reconstruct or --interpolate")
    if truncation is not None and temperature is not None:
        raise UsageError("--temperature and --truncation exclude each other: both narrow the "
                         "latent; choose one")

    from gen.handle import load_run
    from gen.sampling import INTERPOLATION_STEPS  # imports torch

    npz = out is not None and Path(out).suffix.lower() == ".npz"
    grid = num * (INTERPOLATION_STEPS if interpolate else 2 if reconstruct else 1)
    if not (npz or folder) and grid > MAX_GRID:
        raise UsageError(f"-n {num} makes a grid of {grid} images, too many for one .png (at "
                         f"most {MAX_GRID}); write them to an .npz file with --out FILE.npz or "
                         "to a folder of PNGs with --out DIR/")

    run = load_run(run_dir, checkpoint, device)
    mode = "reconstruct" if reconstruct else "interpolate" if interpolate else "sample"
    if interpolate:
        between = between or _default_between(run.model)
        if between == "images" and (labels is not None or truncation is not None):
            raise UsageError(f"{'--labels' if labels is not None else '--truncation'} "
                             "applies to --interpolate between drawn latents (--between "
                             "latents), not between held-out images")
        if between == "latents":
            from gen.capabilities import require

            require(run.model, "latent-interpolation", "--interpolate --between latents")
    if temperature is not None:
        from gen.capabilities import require

        require(run.model, "temperature", "--temperature")
    settings = {}
    if mode == "sample" or between == "latents":
        with run.plugin_code("sampling_defaults"):
            settings = sampling.resolve(run.model)  # before anything is written
    name = "interpolate-latents" if between == "latents" else mode
    made: list[Path] = []  # folders made for the output: removed again if nothing is written
    with unmade_on_failure(made):
        path = (make_folder(Path(out), made) if folder
                else out_path(out, run, name, seed, temperature, settings, made))
        num = _write(run, mode, between, num, seed, labels, truncation, batch_size, path,
                     folder, npz, temperature, sampling, settings)
    at = "" if temperature is None else f", temperature {temperature:g}"
    at += " between drawn latents" if between == "latents" else ""
    at += f", {describe(settings)}" if settings else ""
    click.echo(f"{num} images ({mode}{at}) from step {run.step} -> {path}")


def _write(run, mode: str, between: str | None, num: int, seed: int, labels: str | None,
           truncation: float | None, batch_size: int, path: Path, folder: bool, npz: bool,
           temperature: float | None, sampling: SamplingOptions, settings: dict) -> int:
    """Draw, interpolate or reconstruct into ``path``; returns how many images were written."""
    if mode == "sample":
        return _draw(run, num, seed, labels, batch_size, path, folder, temperature, sampling,
                     settings)
    if between == "latents":
        return _interpolate(run, num, seed, labels, truncation, batch_size, path, folder,
                            settings)
    from gen.images import save_grid, save_npz, save_png_folder

    images, nrow = _held_out_grid(run, mode, num, seed)
    if folder:
        save_png_folder(path, images.shape[0], [images])
    elif npz:
        save_npz(images, path)
    else:
        save_grid(images, path, nrow)
    return images.shape[0]


def _default_between(model) -> str:
    """Where --interpolate goes without --between: held-out images for a model that encodes
    and decodes (today's VAE behaviour), else drawn latents; a model with neither is told
    what either needs."""
    from gen.capabilities import capabilities

    caps = capabilities(type(model))
    if "reconstruct" in caps:
        return "images"
    if "latent-interpolation" in caps:
        return "latents"
    name = getattr(model.spec, "name", type(model).__name__)
    raise GenError(f"--interpolate needs latent and generate (between drawn latents) or encode "
                   f"and decode (between held-out images); {name!r} has neither")


def _draw(run, num: int, seed: int, labels: str | None, batch_size: int, path: Path,
          folder: bool, temperature: float | None, sampling: SamplingOptions,
          settings: dict) -> int:
    """Draw the samples batch by batch into ``path`` (a folder of PNGs and .npz streamed, .png
    as one grid); returns how many were drawn."""
    import torch

    from gen.images import save_grid, save_npz_stream, save_png_folder
    from gen.progress import counting
    from gen.sampling import batch_labels, describe_labels, parse_labels

    model, pattern, nrow = run.model, None, None
    if labels is not None:
        pattern, num, nrow = parse_labels(labels, model, num)
        named = describe_labels(model, pattern)
        if named:
            click.echo(f"classes{' (one row each)' if nrow else ''}: {named}", err=True)

    def drawn():
        with counting(num, "drawing samples") as advance:
            for images in run.sample_batches(num, seed, pattern, batch_size, temperature,
                                             **sampling.given()):
                advance(images.shape[0])
                yield images

    def label_batches():
        return (batch_labels(model, pattern, start, min(batch_size, num - start))
                for start in range(0, num, batch_size))

    if folder:
        save_png_folder(path, num, drawn())
    elif path.suffix.lower() == ".npz":
        shape = npz_shape(model, num, path, 1, model.conditional)
        save_npz_stream(path, shape, drawn(), label_batches if model.conditional else None,
                        temperature, settings)
    else:
        save_grid(torch.cat(list(drawn())), path, nrow)
    return num


def _interpolate(run, rows: int, seed: int, labels: str | None, truncation: float | None,
                 batch_size: int, path: Path, folder: bool, settings: dict) -> int:
    """``rows`` strips of `INTERPOLATION_STEPS` images between drawn latents into ``path``;
    returns how many images were written."""
    import torch

    from gen.images import save_grid, save_npz_stream, save_png_folder
    from gen.sampling import INTERPOLATION_STEPS, batch_labels, describe_labels, parse_labels

    model, pattern, steps = run.model, None, INTERPOLATION_STEPS
    if labels is not None:
        pattern, rows, _ = parse_labels(labels, model, rows)
        named = describe_labels(model, pattern)
        if named:
            click.echo(f"classes (one row each): {named}", err=True)
    count = rows * steps

    def drawn():
        return (run.interpolate(rows, seed, steps, pattern, truncation=truncation,
                                batch_size=batch_size),)

    if folder:
        save_png_folder(path, count, drawn())
    elif path.suffix.lower() == ".npz":
        shape = npz_shape(model, rows, path, steps, model.conditional)
        row_labels = batch_labels(model, pattern, 0, rows)
        save_npz_stream(path, shape, drawn(), None if row_labels is None
                        else lambda: [row_labels.repeat_interleave(steps)],
                        None, settings)
    else:
        save_grid(torch.cat(list(drawn())), path, steps)
    return count


def _held_out_grid(run, mode: str, num: int, seed: int):
    from gen.capabilities import require
    from gen.data.datasets import held_out, load_dataset
    from gen.latent import interpolation_grid, pick, reconstruction_grid

    require(run.model, "reconstruct", f"--{mode}")
    data = load_dataset(held_out(run.spec.data, "test"))
    count = min(num, data.images.shape[0]) if mode == "reconstruct" else 2 * num
    images, labels = pick(data, count, seed, run.model.device)
    grid = reconstruction_grid if mode == "reconstruct" else interpolation_grid
    with run.plugin_code(f"--{mode}"):
        return grid(run.model, images, labels)
