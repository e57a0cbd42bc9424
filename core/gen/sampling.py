"""Drawing images from a model: from a fixed seed, in batches, labelled for conditional models.

`gen sample`, `Run.sample`, the quality metrics and the training grids all draw through
`generate`, so the same seed gives the same images everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gen.errors import GenError
from gen.images import to_uint8
from gen.model import Model


@torch.no_grad()
def generate(model: Model, n: int, seed: int = 0, labels: torch.Tensor | None = None,
             batch_size: int = 256) -> torch.Tensor:
    """``n`` samples as uint8 (n, C, H, W) on the CPU, drawn ``batch_size`` at a time from one
    generator seeded with ``seed``. Without ``labels`` a conditional model cycles through its
    classes. Only one batch is on the device at a time."""
    if labels is None:
        labels = class_cycle(model, n)
    g = torch.Generator(device=model.device).manual_seed(seed)
    batches = []
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        y = None if labels is None else labels[start : start + count].to(model.device)
        batches.append(to_uint8(model.sample(count, labels=y, generator=g)))
    return torch.cat(batches)


def class_cycle(model: Model, n: int) -> torch.Tensor | None:
    """Labels 0, 1, 2, ... repeated for ``n`` images of a conditional model (None otherwise)."""
    return torch.arange(n) % model.data.num_classes if model.conditional else None


def check_labels(model: Model, labels: Sequence[int] | torch.Tensor, n: int) -> torch.Tensor:
    """Class labels for ``n`` images: ``labels`` repeated to fill ``n``, each checked against the
    model's classes."""
    if not model.conditional:
        raise GenError(f"labels need a conditional model; {model.spec.name!r} is not one")
    values = torch.as_tensor(labels, dtype=torch.int64).flatten()
    if values.numel() == 0:
        raise GenError("labels: give at least one class")
    classes = model.data.num_classes
    bad = values[(values < 0) | (values >= classes)]
    if bad.numel():
        raise GenError(f"labels: {int(bad[0])} is out of range; {model.spec.name!r} has classes "
                       f"0..{classes - 1}")
    return values.repeat(-(-n // values.numel()))[:n]


def parse_labels(text: str, model: Model, n: int) -> tuple[torch.Tensor, int | None]:
    """``--labels`` -> (labels, images per grid row).

    ``all`` gives one row per class (``n // classes`` images each, at least one); a list such as
    ``3,5`` is repeated to fill ``n`` images."""
    if not model.conditional:
        raise GenError(f"--labels needs a conditional model; {model.spec.name!r} is not one")
    classes = model.data.num_classes
    if text.strip() == "all":
        per_row = max(1, n // classes)
        return torch.arange(classes).repeat_interleave(per_row), per_row
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise GenError(f"--labels must be 'all' or integers like 0,3,7; got {text!r}") from None
    try:
        return check_labels(model, values, n), None
    except GenError as exc:
        raise GenError(f"--{exc}") from None
