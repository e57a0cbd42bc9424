"""CelebA (Liu et al. 2015), aligned faces of 178x218 pixels, in torchvision's layout:
``root/celeba/img_align_celeba/*.jpg`` and ``root/celeba/list_eval_partition.txt``.

The partition file is read here rather than through torchvision's CelebA class, which
md5-checks every annotation file at each start. ``train`` is partition 0 (162,770 images),
``test`` partition 2 (19,962); partition 1 (validation) is not used. Unlabelled; an item
decodes one JPEG at its native size, and the core fits it to a square as ``crop`` says.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

from gen.data.request import DatasetRequest
from gen.data.sources._shared import require
from gen.data.sources.files import stat_fingerprint
from gen.data.sources.folder import read_image
from gen.errors import DataError

PARTITIONS = {"train": "0", "test": "2"}


def build(request: DatasetRequest) -> CelebAImages:
    """The split's faces, listed by list_eval_partition.txt."""
    folder = request.root / "celeba"
    partition, images = folder / "list_eval_partition.txt", folder / "img_align_celeba"

    def fetch() -> None:
        from torchvision.datasets import CelebA

        CelebA(str(request.root), split="all", target_type=[], download=True)

    require(request, f"celeba ({request.split} split)", [partition, images], fetch)
    return CelebAImages(partition, images, request.split)


class CelebAImages(Dataset):
    """Items ``(uint8 (3, H, W), 0)``, one JPEG each."""

    num_classes = None

    def __init__(self, partition: Path, folder: Path, split: Literal["train", "test"]):
        self.partition, self.folder = partition, folder
        self.names = _names(partition, split)

    @cached_property
    def fingerprint(self) -> str:
        """Computed when first asked for: it stats every image of the split."""
        try:
            return stat_fingerprint(self.partition, *(self.folder / n for n in self.names))
        except OSError as exc:
            raise DataError(f"cannot read {exc.filename}: {exc.strerror}") from None

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return read_image(self.folder / self.names[index], 3), 0


def _names(partition: Path, split: str) -> list[str]:
    """The image names of the split's partition, from lines such as ``000001.jpg 0``."""
    try:
        lines = partition.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {partition}: {exc}") from None
    wanted, names = PARTITIONS[split], []
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if fields and (len(fields) != 2 or fields[1] not in ("0", "1", "2")):
            raise DataError(f"{partition}, line {number}: {line.strip()!r} is not "
                            "'IMAGE PARTITION' with PARTITION 0, 1 or 2")
        if fields and fields[1] == wanted:
            names.append(fields[0])
    if not names:
        raise DataError(f"{partition} lists no image of partition {wanted} (the {split} split)")
    return names
