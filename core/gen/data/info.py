"""What a model needs to know about its data to build its networks (no torch here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DataInfo:
    """Shape and labels of a data set. Saved in every checkpoint, so a run can be sampled from
    without its data."""

    name: str
    channels: int
    image_size: int
    num_classes: int | None
    num_images: int
    binary: bool = False  # pixels are 0 or 255 only (data.binarize), e.g. for Bernoulli outputs
    classes: tuple[str, ...] | None = None  # class names, classes[label], where the data has them
    # A digest of the data set's fingerprint (its files' names, sizes and times), where it has
    # one: a resumed run compares it with its checkpoint's to say when the data changed.
    fingerprint: str | None = None

    def __post_init__(self) -> None:  # a checkpoint's JSON-like dict holds a list
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["classes"] = None if self.classes is None else list(self.classes)
        return out
