"""A registered data set opened for one split: its builder imported and called, its options
validated, and what it returned checked before anything trains on it."""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gen.cache import cache_root
from gen.data.fit import Crop
from gen.data.request import MAX_CLASSES, DatasetRequest
from gen.errors import DataError, GenError, PluginError
from gen.plugin_parts import DatasetInfo
from gen.spec_plugins import dataset_options
from gen.specs import DataSpec


@dataclass
class Source:
    """The builder's dataset and what gen knows of it; ``size`` is the number of items used
    (``data.limit`` applied)."""

    info: DatasetInfo
    dataset: Any
    size: int
    num_classes: int | None
    classes: list[str] | None
    fingerprint: str | None
    crop: Crop

    @property
    def digest(self) -> str | None:
        """The fingerprint as 16 hex digits (any length a plugin gives becomes one short key):
        what the decoded cache is keyed by and a checkpoint records."""
        if self.fingerprint is None:
            return None
        return hashlib.sha256(self.fingerprint.encode()).hexdigest()[:16]

    @property
    def what(self) -> str:
        """How errors name the data set: its name and plugin."""
        return f"data set {self.info.name!r} (plugin {self.info.plugin!r})"

    def describe(self, index: int) -> str:
        """``item 17`` and, where the dataset can say, what it is (``item 17 (cats/x.png)``)."""
        describe = getattr(self.dataset, "describe", None)
        if describe is None:
            return f"item {index}"
        try:
            return f"item {index} ({describe(index)})"
        except Exception:  # naming an item must never hide the error being reported
            return f"item {index}"


def dataset_info(spec: DataSpec, plugins: Any = None) -> DatasetInfo:
    """The registered data set ``data.dataset`` names (`UnknownDatasetError`, exit 2, with the
    closest name, when none does)."""
    if plugins is None:
        from gen.plugins import get_plugins

        plugins = get_plugins()
    return plugins.registry.get_dataset(spec.dataset)


def open_source(spec: DataSpec, plugins: Any = None,
                log: Callable[[str], None] | None = None) -> Source:
    """Build ``spec.split`` of ``spec.dataset``. A builder that cannot be imported, raises or
    returns something that is not a dataset is an error naming the data set and its plugin
    (exit 1), before any step."""
    info = dataset_info(spec, plugins)
    options = dataset_options(info, spec.options)
    request = DatasetRequest(spec=spec, split=spec.split, cache=dataset_cache(info),
                             log=log or _stderr, options=options)
    what = f"data set {info.name!r} (plugin {info.plugin!r})"
    try:
        builder = info.builder()
    except PluginError as exc:
        raise DataError(f"{what}: {exc}") from None
    try:
        dataset = builder(request)
    except GenError:
        raise
    except Exception as exc:
        raise DataError(f"{what}: its builder {info.dataset} raised "
                        f"{type(exc).__name__}: {exc}") from None
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise DataError(f"{what}: its builder returned {type(dataset).__name__}, not a "
                        "dataset (expected __len__ and __getitem__ giving (image, label))")
    num_classes = getattr(dataset, "num_classes", "missing")
    if num_classes == "missing" or not (
            num_classes is None or (isinstance(num_classes, int) and num_classes > 0)):
        raise DataError(f"{what}: num_classes is {num_classes!r}; expected a positive int, "
                        "or None when the data is unlabelled")
    if num_classes is not None and num_classes > MAX_CLASSES:
        raise DataError(f"{what}: num_classes is {num_classes:,}, over the {MAX_CLASSES:,} "
                        "classes gen takes: labels that many are ids (of images, people, "
                        "...), not classes; give the data set fewer classes")
    size = len(dataset)
    if spec.limit is not None:
        size = min(size, spec.limit)
    if size == 0:
        raise DataError(f"{what}: the {spec.split} split has no images")
    classes = getattr(dataset, "classes", None)
    if num_classes is None or classes is None or len(classes) != num_classes:
        classes = None
    fingerprint = getattr(dataset, "fingerprint", None)
    return Source(info, dataset, size, num_classes,
                  None if classes is None else [str(c) for c in classes],
                  None if fingerprint is None else str(fingerprint),
                  getattr(options, "crop", "center"))


def dataset_cache(info: DatasetInfo) -> Any:
    """``$GEN_CACHE/data/<plugin>-<name>``: the builder's own folder, kept between runs."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{info.plugin}-{info.name}")
    return cache_root() / "data" / safe


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)
