"""Published reference statistics: the Inception statistics others computed, as gen files.

``gen stats --published NAME --out FILE.npz`` downloads one (with a timeout, into
``$GEN_CACHE/reference-stats/``), checks its sha256 where the catalogue pins one, reads its
``mu`` and ``sigma`` and writes them in gen's format (`gen.evaluation.reference_stats`) with
what they correspond to in gen's terms, so `gen evaluate --reference-stats FILE` checks them
like any other file. A file already in the cache is used without the network (put one there by
hand where gen has none).

What maps to what (read from clean-fid 0.1.35's and torch-fidelity 0.4's code):

- clean-fid ``clean``: each uint8 image resized to 299x299 by PIL's bicubic filter on float
  values, channel by channel, unquantised (``make_resizer("PIL", False, "bicubic")``), into
  NVIDIA's TorchScript port of TensorFlow's 2015-12-05 Inception graph. That is gen's
  ``--extractor inception --fid-convention clean-fid`` (gen's resize is clean-fid's, tested in
  tests/test_crosscheck.py), except that gen runs torch-fidelity's port of the same graph
  (``pt_inception-2015-12-05-6726825d.pth``): two ports of one set of weights, which gen has
  not compared feature by feature (no network here to fetch NVIDIA's file).
- clean-fid ``legacy_tensorflow``: the same TorchScript graph resizing inside, as TensorFlow
  1.x did (clean-fid reports it within 2e-05 of the original TTUR code); gen's
  ``--fid-convention torch-fidelity`` (uint8 images resized inside with TensorFlow 1.x's
  bilinear filter by torch-fidelity's port, which reproduces the same code). Equal up to the
  ports, as above.
- clean-fid ``legacy_pytorch``: pytorch-fid's network fed images resized *outside* by
  PyTorch's ``F.interpolate(bilinear, align_corners=False)``: neither of gen's conventions,
  so not in the catalogue.
- torch-fidelity publishes no statistics: it computes them from its registered inputs
  (``cifar10-train``, ``stl10-test``, ...) and caches them locally; ``gen stats cifar10
  --split train --extractor inception`` is gen's equivalent (the default convention is
  torch-fidelity's).
- TTUR (Heusel et al. 2017), the original FID code, publishes ``fid_stats_cifar10_train.npz``:
  TensorFlow's graph on uint8 images resized inside: gen's torch-fidelity convention.

No sha256 is pinned: none is published beside the files, and gen had no network to record
one. Each download's sha256 is kept in the converted file (``source.sha256``) and in every
score made with it, so two scores can be told to rest on the same bytes.
"""

from __future__ import annotations

import shutil
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from urllib.error import URLError

import numpy as np

from gen.cache import cache_root
from gen.errors import DataError, UsageError
from gen.evaluation.make_stats import gen_version
from gen.evaluation.reference_stats import (
    ReferenceStats,
    check_out,
    save_reference_stats,
)
from gen.extractors.cache import file_sha256
from gen.fileio import atomic_write, make_folder
from gen.paths import user_path

DOWNLOAD_TIMEOUT_S = 60
INCEPTION_HASH = "sha256:6726825d"  # the FID Inception weights, as gen's inception checks them
CLEAN_FID = "https://www.cs.cmu.edu/~clean-fid/stats"
TTUR = "http://bioinf.jku.at/research/ttur/ttur_stats"


@dataclass(frozen=True)
class Published:
    library: str  # who computed them
    url: str
    mode: str  # the library's name for how images reached the network
    convention: str  # gen's --fid-convention that corresponds
    dataset: str  # the data set (gen's name where gen reads it: cifar10)
    split: str
    image_size: int
    n: int  # images the statistics are of (the library's documentation)
    sha256: str | None = None  # pinned hex digest of the file; None: not known

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _clean_fid(dataset: str, split: str, size: int, n: int) -> dict[str, Published]:
    modes = {"clean": "clean-fid", "legacy_tensorflow": "torch-fidelity"}
    return {f"clean-fid:{dataset.replace('_', '-')}-{split}-{size}-{mode.replace('_', '-')}":
            Published("clean-fid", f"{CLEAN_FID}/{dataset}_{mode}_{split}_{size}.npz", mode,
                      convention, dataset.replace("_", "-"), split, size, n)
            for mode, convention in modes.items()}


CATALOGUE: dict[str, Published] = {
    **_clean_fid("cifar10", "train", 32, 50_000),
    **_clean_fid("cifar10", "test", 32, 10_000),
    **_clean_fid("ffhq", "trainval70k", 256, 70_000),
    **_clean_fid("ffhq", "trainval70k", 1024, 70_000),
    **_clean_fid("lsun_church", "train", 256, 50_000),
    "ttur:cifar10-train-32": Published("TTUR", f"{TTUR}/fid_stats_cifar10_train.npz",
                                       "tensorflow", "torch-fidelity", "cifar10", "train", 32,
                                       50_000),
}


def published_stats(name: str, out: str | Path, force: bool = False,
                    log: Callable[[str], None] = print) -> ReferenceStats:
    """Download (or take from the cache) the statistics ``name`` of `CATALOGUE` and write
    them to ``out`` in gen's format."""
    out = user_path(out, "--out")
    check_out(out, force)
    entry = CATALOGUE.get(name)
    if entry is None:
        raise UsageError(f"--published: unknown statistics {name!r}; known: "
                         f"{', '.join(CATALOGUE)}")
    path = fetch(entry, log)
    mu, sigma = _read(path, entry)
    meta = {"extractor": "inception", "extractor_hash": INCEPTION_HASH,
            "fid_convention": entry.convention, "channels": 3, "image_size": entry.image_size,
            "data": {"dataset": entry.dataset, "split": entry.split, "channels": 3,
                     "image_size": entry.image_size, "binary": False},
            "fingerprint": None, "gen_version": gen_version(),
            "source": {"name": name, "library": entry.library, "mode": entry.mode,
                       "url": entry.url, "sha256": file_sha256(path),
                       "sha256_pinned": entry.sha256 is not None}}
    return save_reference_stats(out, ReferenceStats(mu, sigma, entry.n, meta), force)


def fetch(entry: Published, log: Callable[[str], None] = print) -> Path:
    """The entry's file in the cache, downloaded there first if absent; its sha256 checked
    against a pinned one (a mismatch keeps nothing)."""
    path = cache_root() / "reference-stats" / entry.library / entry.filename
    if path.is_file():
        _check_hash(path, path, entry)
        return path
    log(f"downloading {entry.url} -> {path}")

    def write(tmp: Path) -> None:
        try:
            with (urllib.request.urlopen(entry.url, timeout=DOWNLOAD_TIMEOUT_S) as src,
                  open(tmp, "wb") as dst):
                shutil.copyfileobj(src, dst)
        except (URLError, HTTPException, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DataError(f"cannot download {entry.url} ({reason}); where a network allows, "
                            f"download it and put it at {path}") from None
        _check_hash(tmp, path, entry)

    make_folder(path.parent)
    atomic_write(path, write)  # a full disk: a WriteError naming the file
    return path


def _check_hash(file: Path, path: Path, entry: Published) -> None:
    if entry.sha256 is None:
        return
    digest = file_sha256(file)
    if digest != entry.sha256:
        if file == path:
            path.unlink()
        raise DataError(f"{path} ({entry.url}) has sha256 {digest}, not the published "
                        f"{entry.sha256}: removed; a changed or damaged file")


def _read(path: Path, entry: Published) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            mu, sigma = f["mu"], f["sigma"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path} ({entry.url}) is not statistics with mu and sigma ({exc}): "
                        "delete it to download it again") from None
    if mu.shape != (2048,) or sigma.shape != (2048, 2048):
        raise DataError(f"{path} ({entry.url}): mu {mu.shape} and sigma {sigma.shape} are not "
                        "the Inception's 2048 features")
    return mu.astype(np.float64), sigma.astype(np.float64)
