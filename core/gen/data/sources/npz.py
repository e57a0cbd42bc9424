"""The user's own arrays, in a NumPy ``.npz`` file.

``data.root`` is one ``.npz`` file, read for both splits, or a folder holding ``train.npz``
and/or ``test.npz``. Its images array is uint8 in one of three layouts, told apart by where a
channel count of 1 or 3 sits:

- ``(N, H, W)``: grey;
- ``(N, C, H, W)`` when dim 1 is 1 or 3 (this wins when both could be, as in (N, 3, 3, 3));
- ``(N, H, W, C)`` when the last dim is 1 or 3 and dim 1 is not.

An optional labels array of N integers >= 0 gives the classes (num_classes = max + 1, at most
`gen.data.request.MAX_CLASSES`: larger labels are ids, to be remapped first). Arrays
saved by ``numpy.savez`` are memory-mapped, so an item reads only its own bytes; those of
``numpy.savez_compressed`` are decompressed once, when the data set is built.
"""

from __future__ import annotations

import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gen.data.request import MAX_CLASSES, DatasetRequest
from gen.data.sources._shared import MappedArray
from gen.data.sources.files import stat_fingerprint
from gen.data.sources.options import NpzOptions
from gen.errors import DataError

LAYOUTS = "(N, H, W) grey, (N, H, W, C) or (N, C, H, W) with C 1 or 3"


def build(request: DatasetRequest) -> NpzImages:
    """The split's images from ``data.root`` (a .npz file, or a folder of train/test.npz)."""
    options = request.options or NpzOptions()
    root = request.root
    if root.is_dir():
        path = root / f"{request.split}.npz"
        if not path.is_file():
            raise DataError(
                f"npz ({request.split} split): {path} not found: place the {request.split} "
                "split there, or set data.root to one .npz file to read it for both splits"
            )
    elif root.is_file():
        path = root
    else:
        raise DataError(f"data.root: {root} is neither a .npz file nor a folder holding "
                        "train.npz and test.npz")
    return NpzImages(path, options)


class NpzImages(Dataset):
    """Items ``(uint8 (C, H, W), label)``; label 0 when unlabelled."""

    def __init__(self, path: Path, options: NpzOptions):
        if not zipfile.is_zipfile(path):
            raise DataError(f"{path} is not a .npz archive (a zip of .npy arrays), or it is "
                            "cut short: write it with numpy.savez(path, images=..., labels=...)")
        # allow_pickle=False: an object array in a .npz is a pickle, and loading one runs code.
        try:
            with np.load(path, allow_pickle=False) as npz:
                keys = npz.files
                mapped, self.layout = _images(path, keys, options.images_key)
                self.images = npz[options.images_key] if mapped is None else mapped
                labels = None
                if options.labels_key in keys:
                    labels = npz[options.labels_key]
                elif options.labels_key != NpzOptions.model_fields["labels_key"].default:
                    raise DataError(f"{path}: no array {options.labels_key!r} (data.options."
                                    f"labels_key); it holds {', '.join(keys)}")
        except DataError:
            raise
        except Exception as exc:  # a damaged zip or .npy header: zipfile, numpy and OS errors
            raise DataError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
        self.count = self.images.shape[0]
        self.labels = None if labels is None else _labels(path, options.labels_key, labels,
                                                          self.count)
        self.num_classes = None if self.labels is None else int(self.labels.max()) + 1
        self.fingerprint = stat_fingerprint(path)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.layout == "NHW":
            image = image[None]
        elif self.layout == "NHWC":
            image = image.transpose(2, 0, 1)
        label = 0 if self.labels is None else int(self.labels[index])
        return torch.from_numpy(image.copy()), label


def _images(path: Path, keys: list[str], key: str) -> tuple[MappedArray | None, str]:
    """The images array's layout, read from its header; the array itself when it can be
    memory-mapped (stored uncompressed), else None (the caller loads it)."""
    if key not in keys:
        raise DataError(f"{path}: no array {key!r}; it holds {', '.join(keys) or 'nothing'} "
                        "(set data.options.images_key to the images array's name)")
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(member)
        info = archive.getinfo(f"{key}.npy")
        header = member.tell()
    if dtype != np.uint8:
        raise DataError(f"{path}: array {key!r} has dtype {dtype}; expected uint8 (0-255): "
                        "convert it yourself, e.g. (x * 255).round().astype('uint8') from [0, 1]")
    layout = _layout(shape)
    if layout is None:
        raise DataError(f"{path}: array {key!r} has shape {shape}; expected {LAYOUTS}")
    if shape[0] == 0:
        raise DataError(f"{path}: array {key!r} holds no images (shape {shape})")
    if info.compress_type != zipfile.ZIP_STORED:
        return None, layout
    if header + math.prod(shape) > info.file_size:
        raise DataError(f"{path}: array {key!r} is cut short ({info.file_size - header} of "
                        f"{math.prod(shape)} bytes); write the file again")
    with open(path, "rb") as raw:  # the member's bytes start after its local zip header
        raw.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", raw.read(4))
    offset = info.header_offset + 30 + name_len + extra_len + header
    return MappedArray(path, dtype, shape, offset, "F" if fortran else "C"), layout


def _layout(shape: tuple[int, ...]) -> str | None:
    if len(shape) == 3:
        return "NHW"
    if len(shape) == 4 and shape[1] in (1, 3):
        return "NCHW"
    if len(shape) == 4 and shape[3] in (1, 3):
        return "NHWC"
    return None


def _labels(path: Path, key: str, labels: np.ndarray, count: int) -> np.ndarray:
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: array {key!r} has shape {labels.shape} and dtype "
                        f"{labels.dtype}; expected {count} integers, one per image")
    if labels.min() < 0:
        raise DataError(f"{path}: array {key!r} holds the label {labels.min()}; labels are "
                        "classes 0, 1, 2, ...")
    largest = int(labels.max())
    if largest >= MAX_CLASSES:  # checked here, before anything is sized by it
        raise DataError(
            f"{path}: array {key!r} holds the label {largest:,}, which would make "
            f"{largest + 1:,} classes (0 to the largest label); gen takes up to {MAX_CLASSES:,}: "
            "these look like ids, not classes. Remap them to 0, 1, 2, ... first, e.g. "
            f"{key} = numpy.unique({key}, return_inverse=True)[1]")
    return labels.astype(np.int64)
