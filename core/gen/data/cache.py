"""The decoded cache behind ``data.storage=stream``: every image decoded, converted and fitted
once into a flat uint8 file (N, C, S, S) under ``$GEN_CACHE/data/<plugin>-<name>/decoded``, so
later epochs and later runs never decode again.

A cache is keyed by the data set and its root, its fingerprint (its files, their sizes and
times) and the transform (split, size, channels, limit, options, binarisation): change either
and another key is built, the old one removed. Its ``.json`` is written last, after the data
is complete and renamed into place, and is checked against the files' sizes on every open: a
truncated or half-written cache is rebuilt, never trusted. A data set without a fingerprint is
decoded anew at every start."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gen.data.decode import decode
from gen.data.source import Source
from gen.errors import DataError
from gen.paths import user_path
from gen.specs import DataSpec

FORMAT = 1


@dataclass(frozen=True)
class DecodedCache:
    """A complete cache: ``path`` (the images), its shape, and the labels (int64, in memory:
    8 bytes an image)."""

    path: Path
    num_images: int
    channels: int
    image_size: int
    labels: torch.Tensor | None

    @property
    def item_bytes(self) -> int:
        return self.channels * self.image_size * self.image_size


def transform_key(spec: DataSpec, source: Source) -> str:
    """Which data (the data set and its root: two image folders never share a key) and how
    it is shaped."""
    root = None if spec.root is None else str(user_path(spec.root, "data.root").resolve())
    parts = (FORMAT, source.info.qualified, root, spec.split, spec.image_size, spec.channels,
             spec.limit, sorted(spec.options.items()), source.crop,
             "static" if spec.binarize == "static" else "none")
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def open_cache(spec: DataSpec, source: Source, folder: Path, log: Callable[[str], None],
               build: bool = True) -> DecodedCache:
    """The decoded cache of ``source``, built when it is missing, stale or damaged (with
    ``build`` False, as a torchrun process other than the main one: only read)."""
    prefix = f"{spec.split}-{transform_key(spec, source)}"
    stem = folder / f"{prefix}-{source.digest or 'unkeyed'}"
    if source.fingerprint is not None or not build:
        found = _read(stem, source)
        if found is not None:
            return found
    if not build:
        raise DataError(f"data.storage=stream: the decoded cache {stem} is missing or "
                        "incomplete after process 0 built it (is $GEN_CACHE shared by the "
                        "processes of this run?)")
    for old in folder.glob(f"{prefix}-*"):  # an older fingerprint's files: stale
        old.unlink(missing_ok=True)
    return _build(spec, source, stem, log)


def _read(stem: Path, source: Source) -> DecodedCache | None:
    try:
        meta = json.loads(stem.with_suffix(".json").read_text())
        n, c, s = meta["num_images"], meta["channels"], meta["image_size"]
        images = stem.with_suffix(".u8")
        if meta["format"] != FORMAT or images.stat().st_size != n * c * s * s:
            return None
        labels = None
        if meta["labelled"]:
            raw = np.fromfile(stem.with_suffix(".labels"), dtype="<i8")
            if raw.shape[0] != n:
                return None
            labels = torch.from_numpy(raw.astype(np.int64))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if n != source.size:
        return None
    return DecodedCache(images, n, c, s, labels)


def _build(spec: DataSpec, source: Source, stem: Path,
           log: Callable[[str], None]) -> DecodedCache:
    stem.parent.mkdir(parents=True, exist_ok=True)
    # This process's own temporary names (two runs may build one key at once: each writes its
    # own files, and the renames put one complete copy in place).
    tmp = f"{stem.parent / ('.' + stem.name)}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    images_tmp, labels_tmp, json_tmp = Path(f"{tmp}.u8"), Path(f"{tmp}.labels"), Path(
        f"{tmp}.json")
    log(f"data: decoding {source.size:,} images of {source.what} into {stem.parent} "
        "(once; later epochs and runs read the decoded cache)")
    start = time.perf_counter()
    labels = []
    channels = 0
    generator = torch.Generator().manual_seed(0) if spec.binarize == "static" else None
    try:
        with open(images_tmp, "wb") as f:
            for images, chunk_labels in decode(source, spec):
                if generator is not None:
                    from gen.data.datasets import binarize

                    images = binarize(images, generator)
                channels = images.shape[1]
                f.write(images.numpy().tobytes())
                labels.append(chunk_labels)
            f.flush()
            os.fsync(f.fileno())
        all_labels = torch.cat(labels).numpy().astype("<i8")
        all_labels.tofile(labels_tmp)
        os.replace(images_tmp, stem.with_suffix(".u8"))
        os.replace(labels_tmp, stem.with_suffix(".labels"))
        meta = {"format": FORMAT, "num_images": source.size, "channels": channels,
                "image_size": spec.image_size, "labelled": source.num_classes is not None,
                "data_set": source.info.qualified, "split": spec.split}
        json_tmp.write_text(json.dumps(meta))
        os.replace(json_tmp, stem.with_suffix(".json"))
    except OSError as exc:
        raise DataError(f"data.storage=stream: cannot write the decoded cache in "
                        f"{stem.parent}: {exc.strerror or exc} (set GEN_CACHE to a writable "
                        "folder with room for it, or use data.storage=memory)") from None
    finally:
        for path in (images_tmp, labels_tmp, json_tmp):
            path.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    log(f"data: decoded {source.size:,} images in {seconds:.1f} s "
        f"({source.size / max(seconds, 1e-9):,.0f} images/s)")
    found = _read(stem, source)
    if found is None:  # written and renamed above: only a concurrent writer gets here
        raise DataError(f"data.storage=stream: the decoded cache {stem} changed while it was "
                        "written (another run building it?); start again")
    return found


class CacheReader(torch.utils.data.Dataset):
    """Batches read from a decoded cache by index: ``reader[indices]`` is a uint8 tensor
    (len(indices), C, S, S) and the labels (or None). Rows are read with ``pread`` rather than
    through a memory map, so the pages read never count against the process's resident
    memory."""

    def __init__(self, cache: DecodedCache):
        self.cache = cache
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return self.cache.num_images

    def __getitem__(self, indices) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._fd is None or self._pid != os.getpid():  # a worker opens its own handle
            self._fd = os.open(self.cache.path, os.O_RDONLY)
            self._pid = os.getpid()
        size = self.cache.item_bytes
        out = np.empty((len(indices), size), dtype=np.uint8)
        for row, index in enumerate(indices):
            data = os.pread(self._fd, size, int(index) * size)
            if len(data) != size:
                raise DataError(f"{self.cache.path}: truncated while training (item {index}); "
                                "start again to rebuild it")
            out[row] = np.frombuffer(data, dtype=np.uint8)
        c, s = self.cache.channels, self.cache.image_size
        labels = self.cache.labels
        return (torch.from_numpy(out).view(len(indices), c, s, s),
                None if labels is None else labels[torch.as_tensor(indices, dtype=torch.long)])

    def __getstate__(self):
        return {"cache": self.cache, "_fd": None, "_pid": -1}

    def __del__(self):
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
