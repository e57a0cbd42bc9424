"""gen stats DATA --out FILE.npz: the reference statistics `gen evaluate --reference-stats`
scores against (`gen.evaluation.make_stats`), or published ones (`gen.evaluation.published`)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from gen.arguments import MAX_SEED
from gen.cli.options import UserPath, device_option
from gen.errors import UsageError
from gen.evaluation.conventions import CONVENTIONS, DEFAULT_CONVENTION

# what --published leaves no choice of, by parameter: how the user wrote it
DATA_OPTIONS = {"data": "DATA", "extractor": "--extractor",
                "extractor_weights": "--extractor-weights", "fid_convention": "--fid-convention",
                "image_size": "--image-size", "channels": "--channels", "split": "--split",
                "num": "-n", "seed": "--seed", "overrides": "--set"}


@click.command("stats")
@click.argument("data", required=False)
@click.option("--out", required=True, type=UserPath(),
              help="The .npz file to write (an existing one only with --force).")
@click.option("--published", metavar="NAME",
              help="Instead of DATA: published Inception statistics, downloaded once into the "
              "cache and converted, e.g. clean-fid:cifar10-train-32-clean (docs/quickstart.md "
              "lists them and what each corresponds to).")
@click.option("--extractor", default="lenet", show_default=True,
              help="Feature extractor (see `gen plugins`); the one `gen evaluate` will use.")
@click.option("--extractor-weights", type=UserPath(dir_okay=False),
              help="A weights file for the extractor (inception: "
              "pt_inception-2015-12-05-6726825d.pth).")
@click.option("--fid-convention", type=click.Choice(CONVENTIONS), default=DEFAULT_CONVENTION,
              show_default=True, help="How images reach a fixed-size extractor, as in "
              "`gen evaluate`.")
@click.option("--image-size", type=click.IntRange(4, 1024), default=32, show_default=True,
              help="Images are read at this size (the run's: the samples' size).")
@click.option("--channels", type=click.Choice(["1", "3"]),
              help="Convert to 1 (grey) or 3 (RGB) channels; default: the data's own.")
@click.option("--split", type=click.Choice(["train", "test"]), default="test",
              show_default=True, help="The split of a data set (gen evaluate's default "
              "reference is test).")
@click.option("-n", "--n", "num", type=click.IntRange(min=2),
              help="Use N images, drawn as `gen evaluate -n N --seed S` draws its reference "
              "images. Default: all of the split.")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=0, show_default=True,
              help="Chooses the -n images.")
@click.option("--set", "overrides", multiple=True, metavar="data.FIELD=VALUE",
              help="Any other data spec field, e.g. --set data.root=~/data --set "
              "data.download=true.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Images featurised at a time.")
@device_option
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def stats(data: str | None, out: str, published: str | None, extractor: str,
          extractor_weights: str | None, fid_convention: str, image_size: int,
          channels: str | None, split: str, num: int | None, seed: int,
          overrides: tuple[str, ...], batch_size: int, device: str, force: bool) -> None:
    """Fit the features of DATA's images (a data set name such as bundled-mnist or cifar10, a
    folder of images, or an .npz file) and write their mean, covariance, n and what they were
    made from to --out, for `gen evaluate RUN --reference-stats FILE`."""
    if published is not None:
        given = [flag for param, flag in DATA_OPTIONS.items() if _given(param)]
        if given:
            raise UsageError(f"--published {published} is fixed statistics: leave out "
                             f"{', '.join(given)}")
        from gen.evaluation.published import published_stats

        made = published_stats(published, out, force,
                               log=lambda line: click.echo(line, err=True))
    elif data is None:
        raise UsageError("name the images as DATA (a data set, a folder or an .npz file), or "
                         "give --published NAME")
    else:
        from gen.evaluation.make_stats import make_reference_stats  # imports torch

        made = make_reference_stats(
            data, out, extractor=extractor, extractor_weights=extractor_weights,
            fid_convention=fid_convention, image_size=image_size,
            channels=None if channels is None else int(channels), split=split, n=num,
            seed=seed, batch_size=batch_size, device=device, overrides=overrides,
            force=force, progress=True)
    meta = made.meta
    size = meta["image_size"]
    click.echo(f"wrote {made.path}: {made.n} images, {meta['channels']}x{size}x{size}, "
               f"{made.dim} features of {meta['extractor']} ({meta['extractor_hash'][:19]}...), "
               f"FID convention {meta['fid_convention']}; sha256 {made.sha256}")


def _given(param: str) -> bool:
    source = click.get_current_context().get_parameter_source(param)
    return source not in (ParameterSource.DEFAULT, None)
