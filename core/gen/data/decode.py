"""The decoding pass: every item of a `Source` read once, checked, converted to the run's
channels and fitted to its image size, in order, in chunks (by ``data.workers`` processes).

The first bad item stops the pass with an error naming the data set, its plugin and the item:
a wrong type, shape or dtype, a label outside ``num_classes``, grey and colour mixed without
``data.channels``, or whatever the dataset raised reading it. A `GenWarning` raised reading an
item (an image over Pillow's pixel limit) is handed back from the worker and warned once, here
in the decoding process, where the CLI prints it as one line."""

from __future__ import annotations

import signal
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from gen.data.fit import fit, to_channels
from gen.data.source import Source
from gen.data.sources.tensors import TensorItems
from gen.errors import DataError, GenWarning
from gen.specs import DataSpec

CHUNK = 256


@dataclass(frozen=True)
class _Bad:
    """The first bad item of a chunk, sent back from a worker instead of raised."""

    index: int
    problem: str
    unlike: int | None = None  # grey and colour mixed: an earlier item of the other kind


def ignore_stop_signals(worker_id: int) -> None:
    """A worker's start: Ctrl-C and SIGTERM are the training process's to handle (it stops
    after the step, with a checkpoint, and may still need a batch); a worker that died of them
    would fail that step. Workers end with their loader, or when the training process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _label(value: Any, num_classes: int | None) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value)
    elif hasattr(value, "__index__") and not isinstance(value, bool):
        value = int(value.__index__())
    else:
        raise ValueError(f"its label is {type(value).__name__} {value!r}; expected an int")
    if num_classes is not None and not 0 <= value < num_classes:
        raise ValueError(f"its label is {value}, outside 0..{num_classes - 1} (num_classes "
                         f"{num_classes})")
    return value


def _image(value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"its image is {type(value).__name__}; expected a torch uint8 tensor "
                         "(C, H, W)")
    if value.dtype != torch.uint8:
        raise ValueError(f"its image has dtype {value.dtype}; expected torch.uint8 (0-255)")
    if value.ndim != 3 or value.shape[0] not in (1, 3) or min(value.shape[1:]) < 1:
        raise ValueError(f"its image has shape {tuple(value.shape)}; expected (C, H, W) with "
                         "C 1 (grey) or 3 (RGB)")
    return value


def _recording(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``call()`` and the messages of the `GenWarning`s it raised, to be warned by the decoding
    process (a worker's own would print from the worker, with no CLI to shape them); other
    warnings go out as they came."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GenWarning)
        result = call()
    for w in caught:
        if not issubclass(w.category, GenWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return result, [str(w.message) for w in caught if issubclass(w.category, GenWarning)]


class _Checked(Dataset):
    """Items as ``(index, image, label, notes)`` checked and fitted, or ``(index, None,
    problem, notes)``: a worker reports the problem rather than raising, so the error reaches
    the user whole; ``notes`` are the item's warnings (see `_recording`)."""

    def __init__(self, source: Source, spec: DataSpec):
        self.dataset = source.dataset
        self.num_classes = source.num_classes
        self.channels = spec.channels
        self.size = spec.image_size
        self.crop = source.crop

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        result, notes = _recording(lambda: self._check(index))
        return (*result, notes)

    def _check(self, index: int):
        try:
            item = self.dataset[index]
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(f"it is {type(item).__name__}; expected a pair (image, label)")
            image = _image(item[0])
            label = _label(item[1], self.num_classes) if self.num_classes is not None else 0
            image = fit(to_channels(image.unsqueeze(0), self.channels), self.size, self.crop)
            return index, image[0], label
        except Exception as exc:  # the dataset's own errors included: they name the item
            return index, None, str(exc) if isinstance(exc, (ValueError, DataError)) \
                else f"{type(exc).__name__}: {exc}"


def _collate(items):
    """A chunk, ``(images, labels)`` or its first `_Bad` item, and the warnings of its items
    up to there."""
    notes = []
    for index, image, problem, item_notes in items:
        notes += item_notes
        if image is None:
            return _Bad(index, problem), notes
    channels = {item[1].shape[0] for item in items}
    if len(channels) > 1:
        first = items[0][1].shape[0]
        index = next(item[0] for item in items if item[1].shape[0] != first)
        return _Bad(index, "", unlike=items[0][0]), notes
    return (torch.stack([item[1] for item in items]),
            torch.tensor([item[2] for item in items], dtype=torch.long)), notes


def _mixed(source: Source, index: int, unlike: int, channels: int) -> DataError:
    kinds = {1: "grey", 3: "colour"}
    return DataError(f"{source.what}: images mix grey and colour ({source.describe(index)} is "
                     f"{kinds[4 - channels]}, {source.describe(unlike)} {kinds[channels]}); set "
                     "data.channels to 1 or 3 to convert them")


def decode(source: Source, spec: DataSpec, workers: int | None = None
           ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(images uint8 (n, C, S, S), labels int64 (n,))`` chunks covering items
    ``0 .. source.size - 1`` in order; labels are zeros for unlabelled data."""
    if isinstance(source.dataset, TensorItems):  # decoded already: one vectorised pass
        yield from _tensor_chunks(source, spec)
        return
    workers = spec.workers if workers is None else workers
    checked = torch.utils.data.Subset(_Checked(source, spec), range(source.size))
    loader = DataLoader(checked, batch_size=CHUNK, num_workers=workers, collate_fn=_collate,
                        worker_init_fn=ignore_stop_signals,
                        generator=torch.Generator().manual_seed(0))  # not the global RNG
    channels = None
    start = 0
    for chunk, notes in loader:
        for note in notes:
            warnings.warn(GenWarning(note), stacklevel=2)
        if isinstance(chunk, _Bad) and chunk.unlike is not None:
            item = _Checked(source, spec)[chunk.unlike][1]
            raise _mixed(source, chunk.index, chunk.unlike, item.shape[0])
        if isinstance(chunk, _Bad):
            raise DataError(f"{source.what}: {source.describe(chunk.index)}: {chunk.problem}")
        images, labels = chunk
        if channels is None:
            channels = images.shape[1]
        elif images.shape[1] != channels:  # a chunk is all one kind (see _collate)
            raise _mixed(source, start, 0, channels)
        start += images.shape[0]
        yield images, labels


def _tensor_chunks(source: Source, spec: DataSpec):
    items: TensorItems = source.dataset
    try:
        _image(items.images[0])  # one tensor: every item has the first one's dtype and shape
    except ValueError as exc:
        raise DataError(f"{source.what}: {source.describe(0)}: {exc}") from None
    labels = items.labels
    if labels is not None and source.num_classes is not None:
        bad = ((labels[: source.size] < 0) | (labels[: source.size] >= source.num_classes))
        if bad.any():
            index = int(bad.nonzero()[0])
            raise DataError(f"{source.what}: {source.describe(index)}: its label is "
                            f"{int(labels[index])}, outside 0..{source.num_classes - 1}")
    for start in range(0, source.size, 4096):
        end = min(start + 4096, source.size)
        images = fit(to_channels(items.images[start:end], spec.channels), spec.image_size,
                     source.crop)
        chunk_labels = (torch.zeros(end - start, dtype=torch.long)
                        if labels is None or source.num_classes is None
                        else labels[start:end].long())
        yield images.contiguous(), chunk_labels
