"""What a data set's builder receives, and what it must return.

A plugin registers a data set with ``register(name=..., summary=..., dataset="module:build")``
(the hook `gen_register_datasets`); ``build(request)`` is imported only when data is loaded, so
discovery stays torch-free. It returns a `torch.utils.data.Dataset` whose items are
``(image, label)``: a uint8 tensor ``(C, H, W)`` of any size (the core converts channels and
fits it to ``data.image_size``) and an int, with these attributes:

- ``num_classes``: int up to `MAX_CLASSES`, or None when unlabelled (labels are then ignored);
- ``classes`` (optional): the class names, ``classes[label]``, recorded in run.json;
- ``fingerprint`` (optional): a string that changes whenever the items would (for files: their
  names, sizes and modification times). ``data.storage=stream`` keys its decoded cache by it;
  a data set without one is decoded anew at every start, never trusted from an older cache;
- ``describe(index)`` (optional): what an item is (its file, say), for error messages.

The dataset should be picklable: ``data.workers`` reads it from worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gen.paths import user_path
from gen.specs import DataSpec

DEFAULT_ROOT = Path("~/.cache/gen/data")

# The most classes a data set may have. A class-conditional model holds a row of weights per
# class, numbered up to the largest label, so labels that are ids (one per image or person,
# in the millions) would allocate gigabytes before failing. The most of any common labelled
# image set is ImageNet-21k's 21,841; 100,000 leaves room beyond it. Not the number of images:
# a small test split may hold a few images of many classes.
MAX_CLASSES = 100_000


@dataclass(frozen=True)
class DatasetRequest:
    """``spec``: the run's data spec; ``split``: which part to build; ``options``: the validated
    ``data.options`` (an instance of the data set's options class, or None when it declares
    none); ``cache``: a folder of this data set's, kept between runs; ``log``: one line of
    progress for the user (stderr, never stdout)."""

    spec: DataSpec
    split: Literal["train", "test"]
    cache: Path
    log: Callable[[str], None]
    options: Any = None

    @property
    def root(self) -> Path:
        """``data.root`` with ``~`` expanded, or the default data folder."""
        return user_path(self.spec.root or DEFAULT_ROOT, "data.root")
