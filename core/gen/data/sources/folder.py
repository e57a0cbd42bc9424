"""A folder of the user's images: ``data.root`` (or ``data.root/<split>`` when that exists).

Sub-folders of images are classes, labelled in sorted order and named after the sub-folders;
images directly in the folder are unlabelled. Each image is read when it is asked for, so a
200k-image folder costs nothing until the decoding pass (or the decoded cache) reads it."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from gen.data.request import DatasetRequest
from gen.errors import DataError, GenWarning

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}
GREY_MODES = {"1", "L", "LA", "La", "I;16", "I;16L", "I;16B", "I;16N"}


class ImageFolder(Dataset):
    """One decoded image per item, 8-bit grey or RGB as `read_image` says."""

    def __init__(self, files: list[tuple[Path, int]], classes: list[str] | None,
                 channels: int | None, root: Path):
        self.files = files
        self.classes = classes
        self.num_classes = len(classes) if classes else None
        self.channels = channels
        self.root = root
        digest = hashlib.sha256()
        for path, label in files:
            st = path.stat()
            digest.update(f"{path}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        self.fingerprint = digest.hexdigest()

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.files[index]
        return read_image(path, self.channels), label

    def describe(self, index: int) -> str:
        return str(self.files[index][0].relative_to(self.root))


def build(request: DatasetRequest) -> ImageFolder:
    root = request.root  # required for image-folder by DataSpec
    if (root / request.split).is_dir():
        root = root / request.split
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
            files = [(f, 0) for f in loose]
        if not files:
            raise DataError(
                f"data.root: no images in {root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        return ImageFolder(files, classes or None, request.spec.channels, root)
    except OSError as exc:
        raise DataError(f"data.root: cannot list {exc.filename or root}: {exc.strerror}") from None


def read_image(path: Path, channels: int | None) -> torch.Tensor:
    """One image as uint8 (C, H, W). Grey modes (1-bit, 8-bit, 16-bit, with alpha) give one
    channel, the rest (RGB, palette, CMYK, ...) three, unless ``channels`` asks otherwise.
    16-bit values keep their top 8 bits (clipping would make most of them white); transparent
    pixels are composited over black, so colour hidden under alpha 0 never leaks in."""
    import numpy as np
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    try:
        with open_image(path) as img:
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
            return TF.pil_to_tensor(img)
    except DataError:
        raise
    except Exception as exc:  # Pillow parsing a user's bytes raises OSError, ValueError,
        # SyntaxError (a broken PNG chunk), struct.error, EOFError, ...
        raise DataError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from None


def open_image(path: Path):
    """``Image.open(path)`` with Pillow's guard against decompression bombs made gen's: an image
    over ``Image.MAX_IMAGE_PIXELS`` is read with a `GenWarning` naming it (not Pillow's raw
    two-line warning), one over twice that is a `DataError` naming it and the limit."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:
            raise DataError(
                f"cannot read image {path}: it has over {2 * limit:,} pixels, twice Pillow's "
                f"limit against decompression bombs (PIL.Image.MAX_IMAGE_PIXELS = {limit:,}); "
                "shrink it or leave it out") from None
    for w in caught:
        if issubclass(w.category, Image.DecompressionBombWarning):
            width, height = img.size
            warnings.warn(GenWarning(
                f"image {path} is {width:,}x{height:,} ({width * height:,} pixels), over "
                f"Pillow's limit against decompression bombs (PIL.Image.MAX_IMAGE_PIXELS = "
                f"{limit:,}); read anyway: leave it out if it is not an image you meant"),
                stacklevel=2)
        else:  # not ours: as it came
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return img


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
