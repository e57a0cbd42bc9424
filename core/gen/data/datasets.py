"""Load a data set into memory as one uint8 tensor (N, C, H, W) plus optional int64 labels.

Resizing and channel conversion happen once here, so a training step only indexes a tensor.
"""

from __future__ import annotations

import gzip
import math
import warnings
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torchvision.transforms.v2 import functional as TF

from gen.data.info import DataInfo
from gen.errors import DataError, GenWarning
from gen.specs import DataSpec

DEFAULT_ROOT = Path("~/.cache/gen/data")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}

# The bundled set is MNIST's official *test* split; gen divides it by a fixed rule so that
# evaluation never scores training images: every tenth image (index % 10 == 9) is `test`.
BUNDLED_TEST_EVERY = 10


# Static binarisation is one fixed draw, the same on every machine and in every run.
STATIC_BINARIZE_SEED = 0


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,)
    info: DataInfo
    dynamic_binarize: bool = False  # draw 0/255 pixels anew for every batch


def load_dataset(spec: DataSpec) -> ImageSet:
    """Read ``spec``'s data set; a missing or unusable one raises `DataError` saying where gen
    looked and what to do."""
    loader = {
        "bundled-mnist": _bundled_mnist,
        "mnist": _torchvision,
        "fashion-mnist": _torchvision,
        "cifar10": _torchvision,
        "image-folder": _image_folder,
    }[spec.dataset]
    images, labels, num_classes = loader(spec)
    if spec.limit is not None:
        images = images[: spec.limit]
        labels = None if labels is None else labels[: spec.limit]
    images = to_channels(images, spec.channels)
    if images.shape[-1] != spec.image_size or images.shape[-2] != spec.image_size:
        images = TF.resize(images, [spec.image_size, spec.image_size], antialias=True)
    if spec.binarize == "static":
        images = binarize(images, torch.Generator().manual_seed(STATIC_BINARIZE_SEED))
    info = DataInfo(
        name=spec.dataset,
        channels=images.shape[1],
        image_size=spec.image_size,
        num_classes=num_classes,
        num_images=images.shape[0],
        binary=spec.binarize != "none",
    )
    return ImageSet(images.contiguous(), labels, info, spec.binarize == "dynamic")


def held_out(spec: DataSpec, split: str, limit: int | None = None) -> DataSpec:
    """The data spec for evaluating a run on ``split``: dynamic binarisation becomes the fixed
    static draw, so every evaluation scores the same images."""
    binarize = "static" if spec.binarize == "dynamic" else spec.binarize
    return spec.model_copy(update={"split": split, "binarize": binarize, "limit": limit})


def binarize(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarisation (Salakhutdinov & Murray 2008): each uint8 pixel becomes 255 with
    probability intensity/255, else 0."""
    p = images.float() / 255
    u = torch.rand(p.shape, generator=generator, device=p.device)
    return (u < p).to(torch.uint8) * 255


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


def _bundled_mnist(spec: DataSpec):
    folder = resources.files("gen.data") / "bundled"
    files = {}
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        files[name] = parse_idx((folder / name).read_bytes(), f"bundled {name}")
    images = files["t10k-images-idx3-ubyte.gz"].unsqueeze(1)
    labels = files["t10k-labels-idx1-ubyte.gz"].long()
    is_test = torch.arange(images.shape[0]) % BUNDLED_TEST_EVERY == BUNDLED_TEST_EVERY - 1
    keep = is_test if spec.split == "test" else ~is_test
    return images[keep], labels[keep], 10


_TORCHVISION = {
    "mnist": ("MNIST", "MNIST/raw"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
}


def _torchvision(spec: DataSpec):
    cls_name, subdir = _TORCHVISION[spec.dataset]
    root = Path(spec.root).expanduser() if spec.root else DEFAULT_ROOT.expanduser()
    if spec.dataset != "cifar10":
        found = _idx_split(root / subdir, spec.split)
        if found is not None:
            return found
    from torchvision import datasets

    try:
        ds = getattr(datasets, cls_name)(
            str(root), train=spec.split == "train", download=spec.download
        )
    except RuntimeError as exc:
        how = (
            "the download failed; check the network or place the files there by hand"
            if spec.download
            else "set data.download=true where the network allows, or place torchvision's "
            "files there"
        )
        raise DataError(
            f"{spec.dataset} ({spec.split} split) not found under {root / subdir}: {how}. "
            f"({exc})"
        ) from None
    except OSError as exc:
        raise DataError(f"{spec.dataset}: cannot read data under {root}: {exc}") from None
    images = torch.as_tensor(ds.data)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(ds.targets, dtype=torch.long)
    return images, labels, len(ds.classes)


def _idx_split(raw: Path, split: str):
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
    return images.unsqueeze(1), labels.long(), 10


def _image_folder(spec: DataSpec):
    """Images in ``root`` (or ``root/<split>`` when that exists). Sub-folders of images are
    classes, labelled in sorted order; images directly in the folder are unlabelled. Each image
    becomes 8-bit grey or RGB as `_read_image` says; a folder that mixes the two needs
    data.channels."""
    root = Path(spec.root).expanduser()  # required for image-folder by DataSpec
    if (root / spec.split).is_dir():
        root = root / spec.split
    if not root.is_dir():
        raise DataError(f"data.root: {root} is not a folder of images")
    try:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir() and _images_in(p))
        loose = _images_in(root)
        if classes:
            files = [(f, i) for i, c in enumerate(classes) for f in _images_in(root / c)]
            if loose:
                warnings.warn(GenWarning(
                    f"data.root: {len(loose)} images directly in {root} (e.g. {loose[0].name}) "
                    f"are left out: with class sub-folders ({', '.join(classes[:3])}"
                    f"{', ...' if len(classes) > 3 else ''}) only their images are read"),
                    stacklevel=2)
        else:
            files = [(f, None) for f in loose]
    except OSError as exc:
        raise DataError(f"data.root: cannot list {exc.filename or root}: {exc.strerror}") from None
    if not files:
        raise DataError(
            f"data.root: no images in {root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    tensors = [_read_image(path, spec.channels, spec.image_size) for path, _ in files]
    grey = [path for (path, _), t in zip(files, tensors, strict=True) if t.shape[0] == 1]
    if grey and len(grey) < len(files):
        colour = next(path for (path, _), t in zip(files, tensors, strict=True) if t.shape[0] == 3)
        raise DataError(
            f"{root}: images mix grey and colour ({len(grey)} grey, e.g. {grey[0].name}; "
            f"{len(files) - len(grey)} colour, e.g. {colour.name}); set data.channels to 1 or 3 "
            "to convert them"
        )
    labels = torch.tensor([c for _, c in files]) if classes else None
    return torch.stack(tensors), labels, (len(classes) if classes else None)


GREY_MODES = {"1", "L", "LA", "La", "I;16", "I;16L", "I;16B", "I;16N"}


def _read_image(path: Path, channels: int | None, size: int) -> torch.Tensor:
    """One image as uint8 (C, size, size). Grey modes (1-bit, 8-bit, 16-bit, with alpha) give
    one channel, the rest (RGB, palette, CMYK, ...) three, unless ``channels`` asks otherwise.
    16-bit values keep their top 8 bits (clipping would make most of them white); transparent
    pixels are composited over black, so colour hidden under alpha 0 never leaks in."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.mode in ("I", "F"):
                raise DataError(
                    f"cannot read image {path}: 32-bit mode {img.mode!r} is not supported; "
                    "save it as 8- or 16-bit"
                )
            grey = img.mode in GREY_MODES
            if img.mode.startswith("I;16"):
                img = Image.fromarray((np.asarray(img).astype(np.uint16) >> 8).astype(np.uint8))
            elif img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
            img = img.convert({1: "L", 3: "RGB", None: "L" if grey else "RGB"}[channels])
            return TF.pil_to_tensor(_square(img, size))
    except DataError:
        raise
    except Exception as exc:  # Pillow parsing a user's bytes raises OSError, ValueError,
        # SyntaxError (a broken PNG chunk), struct.error, EOFError, ...
        raise DataError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _square(img, size: int):
    """Resize the shorter side to ``size`` and centre-crop, as torchvision's usual recipe."""
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))))
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def to_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """uint8 images (N, C, H, W) with ``channels`` channels: grey to RGB by repetition, RGB to
    grey by ITU-R 601 luma (the data loader's rule, which scoring spaces follow too)."""
    if channels is None or images.shape[1] == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1)
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
