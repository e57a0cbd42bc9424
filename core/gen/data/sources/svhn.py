"""SVHN (Netzer et al. 2011), cropped 32x32 house-number digits, in torchvision's layout:
``root/train_32x32.mat``, ``root/test_32x32.mat`` and, for ``extra``, ``root/extra_32x32.mat``.

The .mat files are compressed MATLAB arrays, so each is read whole (with scipy, as torchvision
does) into one tensor, which the core then fits in one vectorised pass. SVHN labels the digit 0
as 10; it becomes 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gen.data.request import DatasetRequest
from gen.data.sources._shared import require
from gen.data.sources.files import stat_fingerprint
from gen.data.sources.options import SvhnOptions
from gen.data.sources.tensors import TensorItems
from gen.errors import DataError

CLASSES = [str(digit) for digit in range(10)]


def build(request: DatasetRequest) -> TensorItems:
    """The split's digits; ``extra`` adds extra_32x32.mat to the train split."""
    options = request.options or SvhnOptions()
    parts = [request.split] + (["extra"] if options.extra and request.split == "train" else [])
    paths = [request.root / f"{part}_32x32.mat" for part in parts]

    def fetch() -> None:
        from torchvision.datasets import SVHN, utils

        for part, path in zip(parts, paths, strict=True):
            if not path.exists():
                url, filename, md5 = SVHN.split_list[part]
                utils.download_url(url, str(request.root), filename, md5)

    require(request, f"svhn ({request.split} split)", paths, fetch)
    read = [_read(path) for path in paths]
    images = read[0][0] if len(read) == 1 else torch.cat([images for images, _ in read])
    labels = torch.cat([labels for _, labels in read])
    return TensorItems(images, labels, 10, CLASSES, stat_fingerprint(*paths))


def _read(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One .mat file's images, uint8 (N, 3, H, W) (a view of the stored (H, W, 3, N)), and its
    labels 0-9."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
    except Exception as exc:  # scipy raises ValueError, MatReadError, OSError, ...
        raise DataError(f"cannot read {path}: {type(exc).__name__}: {exc} (delete it to download "
                        "it again)") from None
    images, labels = mat.get("X"), mat.get("y")
    if images is None or labels is None:
        raise DataError(f"{path}: no arrays X and y (torchvision's SVHN format); it holds "
                        f"{', '.join(k for k in mat if not k.startswith('__')) or 'nothing'}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[2] != 3 or not images.size:
        raise DataError(f"{path}: X has shape {images.shape} and dtype {images.dtype}; expected "
                        "uint8 images (32, 32, 3, N)")
    labels = labels.astype(np.int64).reshape(-1)
    if labels.shape[0] != images.shape[3]:
        raise DataError(f"{path}: {images.shape[3]} images but {labels.shape[0]} labels in y")
    if labels.min() < 1 or labels.max() > 10:
        bad = labels[(labels < 1) | (labels > 10)][0]
        raise DataError(f"{path}: label {bad} in y; SVHN labels are 1-10 (10 for the digit 0)")
    labels[labels == 10] = 0
    return torch.from_numpy(images).permute(3, 2, 0, 1), torch.from_numpy(labels)
