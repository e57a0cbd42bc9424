"""`gen stats DATA`: fit a reference set's features once and keep them in a file.

DATA is what a user would name: a data set gen knows (``bundled-mnist``, ``cifar10``, ... as in
``data.dataset``), a folder of images (read as ``image-folder``) or an .npz file (``npz``). A
registered name wins over a folder of the same name (write ``./mnist`` for the folder). The
images are read by gen's data loader at the image size and channels given, exactly as a run's
reference split is, and ``-n`` of them are drawn in the order `gen evaluate` draws its
reference images with the same ``--seed`` (`gen.evaluation.quality.reference_order`), so a
file of the test split at ``-n N`` holds the statistics `gen evaluate -n N` compares with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from gen.arguments import optional_whole, whole
from gen.arguments import seed as check_seed
from gen.data.datasets import ImageSet, held_out, load_dataset
from gen.device import resolve_device
from gen.errors import DataError, SpecError, UnknownDatasetError, UsageError
from gen.evaluation.comparability import warn_rank_deficient
from gen.evaluation.conventions import DEFAULT_CONVENTION, check_convention, preparer
from gen.evaluation.quality import reference_order
from gen.evaluation.reference_stats import (
    GaussianFit,
    ReferenceStats,
    check_out,
    save_reference_stats,
)
from gen.extractors.base import Extractor, ExtractorRequest, build_extractor, extract
from gen.paths import user_path
from gen.plugins import Plugins, get_plugins
from gen.progress import counting
from gen.spec_json import apply_overrides
from gen.specs import DataSpec, render_errors


def make_reference_stats(data: str, out: str | Path, *, extractor: str = "lenet",
                         extractor_weights: str | None = None,
                         fid_convention: str = DEFAULT_CONVENTION, image_size: int = 32,
                         channels: int | None = None, split: str = "test",
                         n: int | None = None, seed: int = 0, batch_size: int = 256,
                         device: str = "auto", overrides: Sequence[str] = (),
                         force: bool = False, progress: bool = False,
                         plugins: Plugins | None = None) -> ReferenceStats:
    """Fit the features of ``n`` images of ``data`` (all when None) and write them to ``out``
    (.npz, not replaced unless ``force``). ``overrides`` are ``data.FIELD=VALUE`` settings of
    the data spec (``data.root=...``, ``data.download=true``). Everything is checked before
    any image is read: the out file, the convention, the extractor's and data set's names."""
    out = user_path(out, "--out")
    seed, batch_size = check_seed(seed), whole(batch_size, "batch_size")
    n = optional_whole(n, "n", 2)
    check_out(out, force)
    check_convention(fid_convention)
    plugins = plugins or get_plugins()
    plugins.registry.get_extractor(extractor)
    spec = data_spec(data, split, image_size, channels, overrides, plugins)
    images = load_dataset(spec, plugins)
    total = images.images.shape[0]
    count = total if n is None else min(n, total)
    if count < 2:
        raise DataError(f"{data}: a covariance needs 2 images or more; the {split} split "
                        f"holds {total} and -n is {n}")
    idx = reference_order(total, seed)[:count].sort().values
    request = ExtractorRequest(data=spec, channels=images.info.channels,
                               image_size=images.info.image_size,
                               device=resolve_device(device), weights=extractor_weights)
    net = build_extractor(plugins, extractor, request)
    check_convention(fid_convention, net)
    fit = _fit(net, images.images, idx, batch_size, preparer(fid_convention, net), progress)
    warn_rank_deficient(net.name, net.num_features, reference=count)
    mu, sigma = fit.result()
    meta = {"extractor": net.name, "extractor_hash": net.weights_hash,
            "extractor_details": dict(net.details), "fid_convention": fid_convention,
            "channels": images.info.channels, "image_size": images.info.image_size,
            "data": describe(spec, images, total, seed), "fingerprint": fingerprint(images, idx),
            "gen_version": gen_version()}
    return save_reference_stats(out, ReferenceStats(mu, sigma, count, meta), force)


def data_spec(data: str, split: str, image_size: int, channels: int | None,
              overrides: Sequence[str], plugins: Plugins) -> DataSpec:
    """The data spec of DATA: a registered data set, else a folder of images or an .npz
    file; ``overrides`` (``data.FIELD=VALUE``) set any other field."""
    raw: dict[str, Any] = {"split": split, "image_size": image_size}
    if channels is not None:
        raw["channels"] = channels
    raw.update(_source(data, plugins))
    bad = next((o for o in overrides if not o.startswith("data.")), None)
    if bad is not None:
        raise UsageError(f"--set {bad}: gen stats sets fields of the data spec, "
                         "data.FIELD=VALUE (e.g. data.root=~/data, data.download=true)")
    tree = {"data": raw}
    apply_overrides(tree, overrides)
    try:
        spec = DataSpec.model_validate(tree["data"])
    except ValidationError as exc:
        raise SpecError([(f"data.{path}", message)
                         for path, message in render_errors(exc)]) from None
    return held_out(spec, spec.split, spec.limit)


def _source(data: str, plugins: Plugins) -> dict[str, Any]:
    if not data.strip():  # as a path, the current folder: chosen by no one
        raise UsageError("DATA is empty: name a data set, a folder of images (. for the "
                         "current folder) or an .npz file")
    try:
        plugins.registry.get_dataset(data)
        return {"dataset": data}
    except UnknownDatasetError as unknown:
        path = user_path(data, "DATA")
        if path.is_dir():
            return {"dataset": "image-folder", "root": str(path.resolve())}
        if path.is_file() and path.suffix.lower() == ".npz":
            return {"dataset": "npz", "root": str(path.resolve())}
        if path.exists():
            raise UsageError(f"DATA: {data} is a file but not an .npz; name a data set, a "
                             "folder of images or an .npz file") from None
        if "/" in data or "\\" in data or path.suffix:
            raise DataError(f"DATA: {data} not found (a folder of images or an .npz file)"
                            ) from None
        raise unknown from None


def _fit(net: Extractor, images: torch.Tensor, idx: torch.Tensor, batch_size: int,
         prepare: Callable | None, progress: bool) -> GaussianFit:
    fit = GaussianFit(net.num_features)
    with counting(len(idx), "extracting features", progress) as advance:
        for start in range(0, len(idx), batch_size):
            batch = images[idx[start : start + batch_size]]
            fit.update(extract(net, batch, batch_size, prepare))
            advance(batch.shape[0])
    return fit


def describe(spec: DataSpec, images: ImageSet, total: int, seed: int) -> dict[str, Any]:
    """The data a file's images came from, in the keys of a record's ``reference_data``."""
    return {"dataset": spec.dataset, "split": spec.split, "root": spec.root,
            "channels": images.info.channels, "image_size": images.info.image_size,
            "binary": images.info.binary, "split_images": total, "seed": seed}


def fingerprint(images: ImageSet, idx: torch.Tensor) -> str:
    """sha256 of the images used (in index order) and their shape: two files of the same
    images share it, whatever their names or paths."""
    chosen = images.images[idx].contiguous()
    digest = hashlib.sha256(str(tuple(chosen.shape)).encode())
    digest.update(chosen.numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def gen_version() -> str:
    try:
        return metadata.version("gen-core")
    except metadata.PackageNotFoundError:
        return "local"
