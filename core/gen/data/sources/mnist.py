"""MNIST-style data: the bundled test files, and MNIST, Fashion-MNIST and CIFAR-10 read from
torchvision's layout under ``data.root``."""

from __future__ import annotations

import gzip
import math
import zlib
from importlib import resources
from pathlib import Path

import torch

from gen.data.request import DatasetRequest
from gen.data.sources.files import stat_fingerprint
from gen.data.sources.tensors import TensorItems
from gen.errors import DataError

# The bundled set is MNIST's official *test* split; gen divides it by a fixed rule so that
# evaluation never scores training images: every tenth image (index % 10 == 9) is `test`.
BUNDLED_TEST_EVERY = 10
DIGITS = [str(d) for d in range(10)]


def parse_idx(data: bytes, source: str) -> torch.Tensor:
    """Parse an IDX file (gunzipped first when needed), the format MNIST is distributed in."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:  # truncated or damaged
            raise DataError(f"{source}: not a readable gzip file ({exc})") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise DataError(f"{source}: not an unsigned-byte IDX file")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{source}: truncated IDX file (its header is cut short)")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim :]
    if len(body) != math.prod(dims):
        raise DataError(f"{source}: truncated IDX file ({len(body)} of {math.prod(dims)} bytes)")
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


def build_bundled(request: DatasetRequest) -> TensorItems:
    folder = resources.files("gen.data") / "bundled"
    files = {}
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        files[name] = parse_idx((folder / name).read_bytes(), f"bundled {name}")
    images = files["t10k-images-idx3-ubyte.gz"].unsqueeze(1)
    labels = files["t10k-labels-idx1-ubyte.gz"].long()
    is_test = torch.arange(images.shape[0]) % BUNDLED_TEST_EVERY == BUNDLED_TEST_EVERY - 1
    keep = is_test if request.split == "test" else ~is_test
    return TensorItems(images[keep], labels[keep], 10, DIGITS, fingerprint="bundled-1")


_TORCHVISION = {
    "mnist": ("MNIST", "MNIST/raw"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
}


def build_mnist(request: DatasetRequest) -> TensorItems:
    return _torchvision(request, "mnist")


def build_fashion_mnist(request: DatasetRequest) -> TensorItems:
    return _torchvision(request, "fashion-mnist")


def build_cifar10(request: DatasetRequest) -> TensorItems:
    return _torchvision(request, "cifar10")


def _torchvision(request: DatasetRequest, name: str) -> TensorItems:
    cls_name, subdir = _TORCHVISION[name]
    root, split = request.root, request.split
    if name != "cifar10":
        found = _idx_split(root / subdir, split)
        if found is not None:
            return found
    from torchvision import datasets

    try:
        ds = getattr(datasets, cls_name)(str(root), train=split == "train",
                                         download=request.spec.download)
    except RuntimeError as exc:
        how = (
            "the download failed; check the network or place the files there by hand"
            if request.spec.download
            else "set data.download=true where the network allows, or place torchvision's "
            "files there"
        )
        raise DataError(
            f"{name} ({split} split) not found under {root / subdir}: {how}. ({exc})"
        ) from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read data under {root}: {exc}") from None
    images = torch.as_tensor(ds.data)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(ds.targets, dtype=torch.long)
    return TensorItems(images, labels, len(ds.classes), list(ds.classes),
                       fingerprint=stat_fingerprint(root / subdir))


def _idx_split(raw: Path, split: str) -> TensorItems | None:
    """One split of an MNIST-style data set from its IDX files (gzipped or not), when present.

    Read directly because torchvision insists on both splits being present, and a user may
    have only one (like the bundled test files)."""
    prefix = "train" if split == "train" else "t10k"
    paths = []
    for kind in ("images-idx3", "labels-idx1"):
        name = f"{prefix}-{kind}-ubyte"
        path = next((p for p in (raw / name, raw / f"{name}.gz") if p.is_file()), None)
        if path is None:
            return None
        paths.append(path)
    images, labels = (parse_idx(p.read_bytes(), str(p)) for p in paths)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{paths[0]} holds shape {tuple(images.shape)} and {paths[1]} shape "
                        f"{tuple(labels.shape)}: expected images (N x H x W) and labels (N); "
                        "are the two files swapped?")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{paths[0]} holds {images.shape[0]} images but {paths[1]} "
                        f"{labels.shape[0]} labels; each image needs one label")
    if labels.numel() and int(labels.max()) > 9:
        raise DataError(f"{paths[1]}: label {int(labels.max())} is not a digit class 0-9")
    return TensorItems(images.unsqueeze(1), labels.long(), 10, DIGITS,
                       fingerprint=stat_fingerprint(*paths))
