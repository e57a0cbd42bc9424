"""STL-10 (Coates et al. 2011), 96x96 colour images, in torchvision's binary layout under
``root/stl10_binary/``: ``train_X.bin``/``train_y.bin`` (5,000 labelled images of 10 classes),
``test_X.bin``/``test_y.bin`` (8,000) and ``unlabeled_X.bin`` (100,000 unlabelled).

An X file is raw uint8, each image 3 x 96 x 96 stored column by column (MATLAB's order); it is
memory-mapped, so an item reads only its own 27,648 bytes. A y file holds one byte per image,
the class 1-10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gen.data.request import DatasetRequest
from gen.data.sources._shared import MappedArray, require
from gen.data.sources.files import stat_fingerprint
from gen.data.sources.options import Stl10Options
from gen.errors import DataError

CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE


def build(request: DatasetRequest) -> STL10Images:
    """The split's images, labelled unless ``unlabeled`` picks the unlabelled train set."""
    options = request.options or Stl10Options()
    folder = request.root / "stl10_binary"
    if request.split == "train" and options.unlabeled:
        paths = [folder / "unlabeled_X.bin"]
    else:
        paths = [folder / f"{request.split}_X.bin", folder / f"{request.split}_y.bin"]

    def fetch() -> None:
        from torchvision.datasets import STL10, utils

        utils.download_and_extract_archive(STL10.url, str(request.root), filename=STL10.filename,
                                           md5=STL10.tgz_md5)

    require(request, f"stl10 ({request.split} split)", paths, fetch)
    return STL10Images(*paths)


class STL10Images(Dataset):
    """Items ``(uint8 (3, 96, 96), class)``; class 0 when unlabelled."""

    def __init__(self, images: Path, labels: Path | None = None):
        size = images.stat().st_size
        if size == 0 or size % IMAGE_BYTES:
            raise DataError(f"{images}: {size} bytes is not a whole number of 3x96x96 images "
                            f"({IMAGE_BYTES} bytes each); is it truncated? delete it to download "
                            "it again")
        self.count = size // IMAGE_BYTES
        self.images = MappedArray(images, np.dtype(np.uint8), (self.count, 3, SIDE, SIDE))
        self.labels = None if labels is None else _labels(labels, self.count)
        self.num_classes = None if labels is None else len(CLASSES)
        self.classes = None if labels is None else CLASSES
        self.fingerprint = stat_fingerprint(*filter(None, (images, labels)))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].transpose(0, 2, 1)  # stored (C, W, H)
        label = 0 if self.labels is None else int(self.labels[index])
        return torch.from_numpy(image.copy()), label


def _labels(path: Path, count: int) -> np.ndarray:
    try:
        labels = np.fromfile(path, np.uint8).astype(np.int64)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if labels.shape[0] != count:
        raise DataError(f"{path}: {labels.shape[0]} labels for {count} images; each image "
                        "needs one (a byte 1-10)")
    if labels.min() < 1 or labels.max() > 10:
        bad = labels[(labels < 1) | (labels > 10)][0]
        raise DataError(f"{path}: label {bad}; STL-10 labels are the classes 1-10")
    return labels - 1
