"""What changed in a resumed run's data since its checkpoint was written.

The checkpoint records the data it was trained on (`DataInfo`: classes, images, channels and
the files' fingerprint). Other classes are an error: a label would name another class than
the one the weights learnt (a renamed folder), or the networks would not fit (a class added).
Other channels are an error too (the networks would not fit). More or fewer images, or files
changed in place, are a warning: the model still fits and the run goes on, but its batches
differ from an uninterrupted run's."""

from __future__ import annotations

import warnings
from typing import Any

from gen.data.source import Source
from gen.errors import DataError, GenWarning

_SHOWN = 10  # class names shown of a long list
_KINDS = {1: "grey (1 channel)", 3: "colour (3 channels)"}


def check_resumed(trained: dict[str, Any], source: Source, warn: bool = True) -> None:
    """Compare ``source`` (the data just opened, not yet decoded) with ``trained`` (the
    checkpoint's data info): a `DataError` when the classes differ, else a `GenWarning` (with
    ``warn``: the main process alone) when the images or their files do."""
    before = (trained.get("num_classes"), _names(trained.get("classes")))
    now = (source.num_classes, _names(source.classes))
    if before[0] != now[0] or (None not in (before[1], now[1]) and before[1] != now[1]):
        raise DataError(
            f"{source.what}: its classes are not those the run was trained on: the run was "
            f"trained on {_show(*before)}; the data now has {_show(*now)}{_diff(before, now)}. "
            "Its labels would name other classes: put the data back as it was, or train a new "
            "run with another --out")
    if not warn:
        return
    images = trained.get("num_images")
    if isinstance(images, int) and images != source.size:
        warnings.warn(GenWarning(
            f"data: {source.what} has {source.size:,} images, {images:,} when the run's "
            "checkpoint was written; the run goes on with them (its batches differ from an "
            "uninterrupted run's)"), stacklevel=2)
    elif None not in (trained.get("fingerprint"), source.digest) \
            and trained["fingerprint"] != source.digest:
        warnings.warn(GenWarning(
            f"data: the files of {source.what} changed since the run's checkpoint was written "
            f"(the same {source.size:,} images, but names, sizes or modification times differ); "
            "the run goes on with them"), stacklevel=2)


def check_channels(trained: dict[str, Any], channels: int, source: Source) -> None:
    """A `DataError` when the decoded images have other channels than the run trained on."""
    before = trained.get("channels")
    if before in _KINDS and before != channels:
        raise DataError(
            f"{source.what}: its images are now {_KINDS[channels]}, but the run was trained on "
            f"{_KINDS[before]} images: the networks would not fit them; put the data back as it "
            "was, or train a new run with another --out")


def _names(classes: Any) -> tuple[str, ...] | None:
    return None if classes is None else tuple(str(c) for c in classes)


def _show(count: int | None, names: tuple[str, ...] | None) -> str:
    if count is None:
        return "unlabelled images"
    if names is None:
        return f"{count:,} classes (labels 0..{count - 1})"
    listed = ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")
    return f"{count:,} classes [{listed}]"


def _diff(before: tuple, now: tuple) -> str:
    """What was added and what is gone, where both lists have names."""
    if None in (before[1], now[1]):
        return ""
    new = [c for c in now[1] if c not in before[1]]
    gone = [c for c in before[1] if c not in now[1]]
    parts = [f"{what}: {', '.join(names[:_SHOWN])}{', ...' if len(names) > _SHOWN else ''}"
             for what, names in (("new", new), ("gone", gone)) if names]
    return f" ({'; '.join(parts)})" if parts else " (the same names, in another order)"
