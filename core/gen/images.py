"""Writing images: PNG grids for people, .npz arrays and folders of PNGs for other tools. All
atomic."""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from gen.errors import FolderError, UsageError
from gen.fileio import atomic_write

NPZ_HEADERS = 4096  # bytes of zip and .npy headers around an .npz's arrays, generously


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 in [0, 255], on the CPU (uint8 images pass as they are)."""
    if images.dtype == torch.uint8:
        return images.cpu()
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """A PNG grid of [-1, 1] (or uint8) images, ``nrow`` per row (default: as square as
    possible)."""
    from torchvision.utils import save_image

    nrow = nrow or grid_rows(images.shape[0])
    grid = to_uint8(images).float() / 255
    return atomic_write(path, lambda tmp: save_image(grid, tmp, nrow=nrow, padding=2,
                                                     format="png"))


def grid_rows(count: int) -> int:
    """Images per row of a grid of ``count``: as square as possible."""
    return max(1, math.ceil(math.sqrt(count)))


def save_png_folder(folder: Path, count: int, images: Iterable[torch.Tensor]) -> Path:
    """One PNG per image into ``folder``: ``000000.png``, ``000001.png``, ... in the order the
    batches of ``images`` come (zero-padded, so sorting the names keeps that order), each
    written atomically as its batch arrives: memory holds one batch. Before any image is drawn,
    the names are checked against what the folder holds (a file already there is a
    `FolderError`) and ``count`` against the files and bytes its disk has room for."""
    from PIL import Image  # torchvision's own dependency

    width = max(6, len(str(count - 1)))
    names = re.compile(rf"[0-9]{{{width}}}\.png")
    taken = sorted(n for n in (os.listdir(folder) if folder.is_dir() else [])
                   if names.fullmatch(n) and int(n[:-4]) < count)
    if taken:
        raise FolderError(f"refusing to overwrite {len(taken)} file(s) in {folder} ({taken[0]} "
                          "first): choose a new or empty folder, or move them")
    check_room_for_files(folder, count)
    written = 0
    for batch in images:
        for image in to_uint8(batch).permute(0, 2, 3, 1).numpy():  # (H, W, C) each
            picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
            atomic_write(folder / f"{written:0{width}d}.png",
                         lambda tmp, picture=picture: picture.save(tmp, format="png"))
            written += 1
    if written != count:
        raise ValueError(f"{written} images written to {folder}, {count} expected")
    return folder


# The fewest bytes a PNG of gen's takes (signature, IHDR, one IDAT, IEND): a folder of
# ``count`` of them needs at least this many bytes each, and an inode each.
MIN_PNG_BYTES = 67


def check_room_for_files(folder: Path, count: int) -> None:
    """Refuse ``count`` new files in ``folder`` (made if missing) where its disk certainly
    lacks the inodes or bytes for them."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        stats = os.statvfs(existing)
    except OSError:
        return
    files, room = stats.f_favail, stats.f_bavail * stats.f_frsize
    if (files and count > files) or count * MIN_PNG_BYTES > room:
        raise UsageError(f"{count:,} images make {count:,} PNG files in {folder}, more than "
                         f"its disk has room for ({files:,} files, {room / 2**30:.1f} GiB "
                         "free); draw fewer, or into an .npz file with --out FILE.npz")


def save_npz(images: torch.Tensor, path: Path, labels: torch.Tensor | None = None) -> Path:
    """``images`` ([-1, 1] or uint8) as uint8 (N, C, H, W) under key ``images``, plus
    ``labels`` when given."""
    return save_npz_stream(path, tuple(images.shape), [images],
                           None if labels is None else lambda: [labels])


def npz_bytes(count: int, image: tuple[int, ...], labelled: bool) -> int:
    """About the size of the .npz `save_npz_stream` writes for ``count`` images of shape
    ``image`` (C, H, W): uint8 pixels, an int64 label each when ``labelled``, and headers."""
    return NPZ_HEADERS + count * (math.prod(image) + (8 if labelled else 0))


def save_npz_stream(path: Path, shape: tuple[int, ...], images: Iterable[torch.Tensor],
                    labels: Callable[[], Iterable[torch.Tensor]] | None = None,
                    temperature: float | None = None,
                    sampling: Mapping[str, Any] | None = None) -> Path:
    """An .npz file (what `numpy.savez` writes, read by `numpy.load`) of uint8 images of
    ``shape`` (N, C, H, W), written batch by batch as ``images`` yields them, then int64
    ``labels`` from the batches ``labels()`` yields: memory stays that of one batch. A
    sampling ``temperature`` is stored beside them, as ``temperature`` (one float64), and so
    are an iterative model's ``sampling`` settings, each under its name as one value:
    ``sampler`` (text), ``steps`` (int64), ``eta`` and ``guidance`` (float64)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            _write_npy(archive, "images.npy", np.uint8, shape,
                       (to_uint8(batch).numpy() for batch in images))
            if labels is not None:
                _write_npy(archive, "labels.npy", np.int64, shape[:1],
                           (batch.detach().cpu().numpy() for batch in labels()))
            if temperature is not None:
                _write_npy(archive, "temperature.npy", np.float64, (1,),
                           [np.array([temperature])])
            for key, value in (sampling or {}).items():
                if key in ("images", "labels", "temperature"):
                    continue  # a model's odd default named like the arrays above
                array = np.array([value])  # text, int64 or float64; never an object array
                if array.dtype.kind not in "Uif":
                    array = np.array([str(value)])
                _write_npy(archive, f"{key}.npy", array.dtype, (1,), [array])

    return atomic_write(path, write)


def _write_npy(archive: zipfile.ZipFile, name: str, dtype, shape: tuple[int, ...],
               chunks: Iterable) -> None:
    import numpy as np

    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape}
    rows = 0
    with archive.open(name, "w", force_zip64=True) as f:
        np.lib.format.write_array_header_2_0(f, header)
        for chunk in chunks:
            f.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())
            rows += chunk.shape[0]
    if rows != shape[0]:
        raise ValueError(f"{name}: {rows} rows written for a shape of {shape}")
