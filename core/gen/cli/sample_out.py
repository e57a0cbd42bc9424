"""Where `gen sample` writes: a grid, an .npz or a folder of PNGs named by --out (or gen's
own file in the run), the folders made for it, and whether the disk has room for it, all
decided before any image is drawn."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gen.errors import UsageError
from gen.fileio import make_folder
from gen.sampling_options import file_tag


def is_folder(out: str) -> bool:
    """``--out DIR/`` or an existing folder asks for one PNG per image."""
    return out.endswith(("/", os.sep)) or Path(out).is_dir()


def out_path(out: str | None, run, mode: str, seed: int, temperature: float | None,
              settings: dict, made: list[Path]) -> Path:
    at = ("" if temperature is None else f"-t{temperature:g}") + file_tag(settings)
    if out is None:  # gen's own file in the run, replaced by the same draw again
        from gen.run.layout import refuse_link

        refuse_link(run.dir.samples)
    default = run.dir.samples / f"{mode}-step-{run.step:06d}-seed-{seed}{at}.png"
    path = Path(out) if out else default
    make_folder(path.parent, made)
    return path


def npz_shape(model, num: int, path: Path, per: int, labelled: bool) -> tuple[int, ...]:
    """The shape of the .npz of ``num`` times ``per`` images, once it is known to fit: the file
    is written whole beside --out before it replaces it, so one larger than the free space
    of that disk is refused before any image is drawn, with the -n that would fit."""
    from gen.images import NPZ_HEADERS, npz_bytes

    d = model.data
    image = (d.channels, d.image_size, d.image_size)
    need, free = npz_bytes(num * per, image, labelled), shutil.disk_usage(path.parent).free
    if need > free:
        each = npz_bytes(per, image, labelled) - NPZ_HEADERS  # the bytes of one more -n
        raise UsageError(f"-n {num} makes an .npz of about {_size(need)} ({num * per} images of "
                         f"{'x'.join(map(str, image))} bytes), more than the {_size(free)} free "
                         f"on the disk of {path}; use -n {max(0, free - NPZ_HEADERS) // each} or "
                         "fewer, or an --out on a disk with room")
    return (num * per, *image)


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"
