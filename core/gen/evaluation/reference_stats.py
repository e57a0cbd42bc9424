"""Reference statistics: the Gaussian fit of a reference set's features, in one .npz file.

FID needs only the mean and covariance of the reference features, so a set scored often (a
data set of 50,000 images, or statistics published by clean-fid) is fitted once (`gen stats`)
and every evaluation reads the file (`gen evaluate --reference-stats FILE`). A file says what it
was made from, so it is never used with another extractor, weights, FID convention or image
shape: those would give numbers that look like FIDs but compare nothing.

The file (numpy .npz, no pickles): ``mu`` (D,) and ``sigma`` (D, D) float64 (covariance with
the n - 1 denominator, as numpy, torchmetrics and clean-fid compute it), ``n`` (int64), and
``meta``, a JSON object: ``format``, ``extractor``, ``extractor_hash`` (the ``sha256:`` of its
weights; a published file may give a prefix, see `gen.evaluation.published`), ``fid_convention``,
``channels``, ``image_size``, ``data`` (what the images were), ``fingerprint`` (sha256 of the
images used) and ``gen_version``.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gen.errors import DataError, UsageError
from gen.extractors.cache import file_sha256
from gen.fileio import atomic_write, make_folder
from gen.paths import user_path

FORMAT = 1
ARRAYS = ("mu", "sigma", "n", "meta")
META = {"extractor": str, "extractor_hash": str, "fid_convention": str, "channels": int,
        "image_size": int}
OPTION = "--reference-stats"


@dataclass(frozen=True)
class ReferenceStats:
    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64
    n: int  # images the fit is of
    meta: dict[str, Any]
    path: Path | None = None  # the file it was read from or written to
    sha256: str | None = None  # of that file's bytes

    @property
    def shape(self) -> tuple[int, int]:
        """Channels and image size of the images the features were extracted from."""
        return self.meta["channels"], self.meta["image_size"]

    @property
    def dim(self) -> int:
        return self.mu.shape[0]

    def record(self) -> dict[str, Any]:
        """What every score against this file carries under ``reference_stats``."""
        made = {k: v for k, v in self.meta.items() if k != "format"}
        return {"file": str(self.path), "sha256": self.sha256, "n": self.n, **made}

    def reference_data(self) -> dict[str, Any]:
        """The file's images in the shape of a record's ``reference_data``."""
        data = self.meta.get("data") or {}
        return {"dataset": data.get("dataset", "unknown"), "split": data.get("split", "unknown"),
                "channels": self.meta["channels"], "image_size": self.meta["image_size"],
                "binary": bool(data.get("binary", False))}


class GaussianFit:
    """Running sums of features and of their outer products in float64 (torchmetrics' FID
    arithmetic), so a set of any size is fitted in O(D^2) memory."""

    def __init__(self, dim: int):
        self.total = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)
        self.n = 0

    def update(self, features: torch.Tensor) -> None:
        features = features.double()
        self.total += features.sum(dim=0)
        self.outer += features.T @ features
        self.n += features.shape[0]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of the features seen; sigma with the n - 1 denominator."""
        mu = self.total / self.n
        sigma = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu.numpy(), sigma.numpy()


def save_reference_stats(path: Path, stats: ReferenceStats, force: bool = False
                         ) -> ReferenceStats:
    """Write ``stats`` to ``path`` atomically (a reader never sees half a file); an existing
    file is replaced only with ``force``. Returns the stats with their path and sha256."""
    check_out(path, force)
    meta = {"format": FORMAT, **stats.meta}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
            np.savez(f, mu=stats.mu.astype(np.float64), sigma=stats.sigma.astype(np.float64),
                     n=np.int64(stats.n), meta=np.array(json.dumps(meta)))

    make_folder(path.parent)
    atomic_write(path, write)
    return ReferenceStats(stats.mu, stats.sigma, stats.n, meta, path, file_sha256(path))


def check_out(path: Path, force: bool) -> None:
    """``--out`` must name an .npz file that does not exist yet (or ``force``)."""
    if path.suffix.lower() != ".npz":
        raise UsageError(f"--out must end in .npz, got {str(path)!r}")
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder; name a file ending in .npz")
    if path.exists() and not force:
        raise UsageError(f"--out {path} exists; pass --force to replace it")


def load_reference_stats(path: str | Path) -> ReferenceStats:
    """Read and check a statistics file; a missing, damaged or incomplete one is a
    `DataError` naming it (exit 1); an empty path a `UsageError`, not the current folder."""
    if not str(path).strip():
        raise UsageError(f"{OPTION} is empty: name a file that `gen stats` wrote")
    path = user_path(path, OPTION)
    if not path.is_file():
        raise DataError(f"{OPTION} {path}: no such file (make one with `gen stats`)")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, as an .npy file does")
        with archive as f:
            missing = [k for k in ARRAYS if k not in f.files]
            if missing:
                raise DataError(f"{OPTION} {path}: not reference statistics of gen: no "
                                f"{', '.join(missing)} in it (make one with `gen stats`)")
            mu, sigma, n, meta = (f[k] for k in ARRAYS)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{OPTION} {path}: cannot read it as an .npz file ({exc})") from None
    problem = _problem(mu, sigma, n)
    if problem is None:
        meta, problem = _meta(meta)
    if problem is not None:
        raise DataError(f"{OPTION} {path}: damaged reference statistics: {problem}")
    return ReferenceStats(mu.astype(np.float64), sigma.astype(np.float64), int(n), meta, path,
                          file_sha256(path))


def _problem(mu: np.ndarray, sigma: np.ndarray, n: np.ndarray) -> str | None:
    if mu.ndim != 1 or mu.dtype.kind != "f" or mu.shape[0] == 0:
        return f"mu is {mu.dtype} of shape {mu.shape}, expected a float vector"
    dim = mu.shape[0]
    if sigma.shape != (dim, dim) or sigma.dtype.kind != "f":
        return f"sigma is {sigma.dtype} of shape {sigma.shape}, expected ({dim}, {dim}) floats"
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        return "mu or sigma holds values that are not finite"
    if n.shape != () or n.dtype.kind not in "iu" or int(n) < 2:
        return f"n is {n!r}, expected a whole number of at least 2"
    return None


def _meta(raw: np.ndarray) -> tuple[dict[str, Any], str | None]:
    try:
        meta = json.loads(str(raw.item())) if raw.shape == () else None
    except (json.JSONDecodeError, RecursionError, ValueError):
        meta = None
    if not isinstance(meta, dict):
        return {}, "meta is not a JSON object"
    for key, kind in META.items():
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            return {}, f"meta has no {key} ({kind.__name__})"
    if not re.fullmatch(r"sha256:[0-9a-f]{8,64}", meta["extractor_hash"]):
        return {}, f"meta's extractor_hash {meta['extractor_hash']!r} is not sha256:<hex>"
    return meta, None


def check_options(stats: ReferenceStats, extractor: str, convention: str) -> None:
    """Before any work: the file's extractor and FID convention are those asked for."""
    made = stats.meta["extractor"]
    if made.rpartition(":")[2] != extractor.rpartition(":")[2]:
        raise UsageError(f"{OPTION} {stats.path} holds features of extractor {made!r}, not "
                         f"{extractor!r}: pass --extractor {made}, or make statistics with "
                         f"`gen stats ... --extractor {extractor}`")
    if stats.meta["fid_convention"] != convention:
        raise UsageError(f"{OPTION} {stats.path} was made with --fid-convention "
                         f"{stats.meta['fid_convention']}, not {convention}: pass "
                         f"--fid-convention {stats.meta['fid_convention']}")


def check_extractor(stats: ReferenceStats, extractor: torch.nn.Module) -> None:
    """The extractor built has the weights the file's features came from."""
    made, have = stats.meta["extractor_hash"], extractor.weights_hash
    if not have.startswith(made):
        raise UsageError(f"{OPTION} {stats.path} holds features of {extractor.name} weights "
                         f"{made}, but the {extractor.name} in use has {have} (another data "
                         "set's lenet, or other weights): make the statistics with the same "
                         "extractor")
    if extractor.num_features != stats.dim:
        raise UsageError(f"{OPTION} {stats.path} holds {stats.dim} features per image; "
                         f"{extractor.name} gives {extractor.num_features}")


def check_shape(stats: ReferenceStats, shape: tuple[int, int]) -> None:
    """The file's images have the shape the samples are converted to."""
    if stats.shape != tuple(shape):
        (c, s), (tc, ts) = stats.shape, shape
        raise UsageError(f"{OPTION} {stats.path} is of {c}x{s}x{s} images, but the samples are "
                         f"scored as {tc}x{ts}x{ts}: make the statistics at that size and "
                         "channels (gen stats --image-size, --channels), or choose a --space "
                         "of the file's shape")
