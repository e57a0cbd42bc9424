"""Drawing images from a model: from a fixed seed, in batches, labelled for conditional models.

`gen sample`, `Run.sample` and the quality metrics all draw through
`generate_batches`, so the same seed gives the same images everywhere, memory is that of one
batch however many images are asked for, and what a model returns is checked before anything
is made of it (`check_images`). Labels are given as a pattern that is repeated to fill ``n``
(never materialised for all ``n``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from gen.capabilities import require
from gen.errors import UsageError
from gen.images import to_uint8
from gen.latent_tools import slerp, truncate
from gen.model import Model
from gen.plugin_code import checked
from gen.sampling_options import SamplingOptions


def generate_batches(model: Model, n: int, seed: int = 0, labels: torch.Tensor | None = None,
                     batch_size: int = 256, temperature: float | None = None,
                     sampling: SamplingOptions | None = None) -> Iterator[torch.Tensor]:
    """``n`` samples as uint8 batches (at most ``batch_size``, C, H, W) on the CPU, drawn from
    one generator seeded with ``seed``. ``labels`` (a conditional model's classes) repeat to
    fill ``n``; without them the classes cycle 0, 1, 2, ... A ``temperature`` goes to a model
    whose ``sample`` takes one (a flow's prior scaled by it), and is an error for others; so do
    the ``sampling`` options of an iterative model (sampler, steps, eta, guidance), checked by
    `SamplingOptions.resolve` before the first image: a model is passed only those given, so a
    one-pass model's ``sample`` never sees them. A ``truncation`` among them draws each batch
    as ``generate(truncate(latent(count)))`` instead (`gen.latent_tools`): the same seed
    gives the same images, and no element of a latent lies beyond the threshold. Counts and
    the seed are checked by the callers (`gen.Run`, `EvalOptions`)."""
    extra = {}
    truncation = None if sampling is None else sampling.truncation
    if truncation is not None and temperature is not None:
        raise UsageError(f"{sampling.flag('temperature')} and {sampling.flag('truncation')} "
                         "exclude each other: both narrow the latent; choose one")
    if temperature is not None:
        require(model, "temperature", "a sampling temperature")
        extra["temperature"] = temperature
    if sampling is not None:
        extra.update(sampling.sample_kwargs(model))
    g = torch.Generator(device=model.device).manual_seed(seed)
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        y = batch_labels(model, labels, start, count)
        y = None if y is None else y.to(model.device)
        with torch.no_grad():
            if truncation is None:
                images = model.sample(count, labels=y, generator=g, **extra)
                call = f"sample({count})"
            else:
                z = checked(model, f"latent({count})", model.latent(count, g), (count, ...))
                images = model.generate(truncate(z, truncation, g), y)
                call = f"generate({count} latents)"
        yield to_uint8(check_images(model, call, images, count))


def check_images(model: Model, call: str, images: torch.Tensor, count: int) -> torch.Tensor:
    """``images``, what ``call`` returned, if they are ``count`` finite float images of the
    model's data shape; else a `gen.plugin_code.PluginOutputError` (a wrong count or shape
    would otherwise be written as a damaged file, a NaN as a black image). Finite values
    beyond [-1, 1] pass: they are clipped when the images are saved, as any image writer
    does, since a decoder's mean may overshoot."""
    d = model.data
    return checked(model, call, images, (count, d.channels, d.image_size, d.image_size))


INTERPOLATION_STEPS = 10
STRIP_ENDS = "(both ends of each strip)"


def interpolation_batches(model: Model, rows: int, seed: int = 0,
                          steps: int = INTERPOLATION_STEPS, labels: torch.Tensor | None = None,
                          truncation: float | None = None,
                          batch_size: int = 256) -> Iterator[torch.Tensor]:
    """``rows`` strips of ``steps`` images, row-major, as uint8 batches on the CPU: row i
    decodes the slerp (`gen.latent_tools.slerp`) from latent i to latent rows + i of one
    ``latent(2 * rows)`` draw from a generator seeded ``seed`` (truncated first with
    ``truncation``), with one class per row for a conditional model (``labels`` repeated,
    else cycling). The ends of a row are ``generate`` of the drawn latents themselves."""
    require(model, "latent-interpolation", "interpolating between latents")
    if truncation is not None:
        SamplingOptions(truncation=truncation).resolve(model)
    g = torch.Generator(device=model.device).manual_seed(seed)
    with torch.no_grad():
        z = checked(model, f"latent({2 * rows})", model.latent(2 * rows, g), (2 * rows, ...))
        if truncation is not None:
            z = truncate(z, truncation, g)
        t = torch.linspace(0, 1, steps, dtype=torch.float64)
        path = slerp(z[:rows], z[rows:], t).flatten(0, 1)  # (rows * steps, ...), row-major
        y = batch_labels(model, labels, 0, rows)
        y = None if y is None else y.repeat_interleave(steps).to(model.device)
        for start in range(0, path.shape[0], batch_size):
            part = None if y is None else y[start : start + batch_size]
            chunk = path[start : start + batch_size]
            yield to_uint8(check_images(model, f"generate({chunk.shape[0]} latents)",
                                        model.generate(chunk, part), chunk.shape[0]))


def batch_labels(model: Model, labels: torch.Tensor | None, start: int,
                 count: int) -> torch.Tensor | None:
    """The labels of images ``start`` to ``start + count``: ``labels`` repeated, or the class
    cycle of a conditional model (None for an unconditional one)."""
    if labels is None and not model.conditional:
        return None
    index = torch.arange(start, start + count)
    if labels is not None:
        return labels[index % labels.numel()]
    return index % model.data.num_classes


def check_labels(model: Model, labels: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """``labels`` as an int64 pattern, each checked against the model's classes."""
    if not model.conditional:
        raise UsageError(f"labels need a conditional model; {model.spec.name!r} is not one")
    try:
        values = None if isinstance(labels, (str, bytes)) else torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        values = None
    if values is None or values.dtype == torch.bool or values.is_floating_point() \
            or values.is_complex():
        raise UsageError(f"labels: expected class numbers (a list of ints or an integer "
                         f"tensor), got {labels!r:.60}")
    values = values.to(torch.int64).flatten()
    if values.numel() == 0:
        raise UsageError("labels: give at least one class")
    classes = model.data.num_classes
    bad = values[(values < 0) | (values >= classes)]
    if bad.numel():
        raise UsageError(f"labels: {int(bad[0])} is out of range; {model.spec.name!r} has "
                         f"classes 0..{classes - 1}")
    return values


def parse_labels(text: str, model: Model, n: int) -> tuple[torch.Tensor, int, int | None]:
    """``--labels`` -> (label pattern, number of images, images per grid row).

    ``all`` gives one row per class (``n // classes`` images each, at least one); a list such as
    ``3,5`` (or the class names the data recorded, ``cats,dogs``) is repeated to fill ``n``
    images."""
    if not model.conditional:
        raise UsageError(f"--labels needs a conditional model; {model.spec.name!r} is not one")
    classes = model.data.num_classes
    if text.strip() == "all":
        per_row = max(1, n // classes)
        return torch.arange(classes).repeat_interleave(per_row), classes * per_row, per_row
    names = {name: i for i, name in enumerate(model.data.classes or ())}
    values = []
    for item in (v.strip() for v in text.split(",")):
        if item in names:
            values.append(names[item])
            continue
        try:
            values.append(int(item))
        except ValueError:
            known = f" or class names ({', '.join(names)})" if names else ""
            raise UsageError(f"--labels must be 'all' or integers like 0,3,7{known}; got "
                             f"{item!r}") from None
    try:
        return check_labels(model, values), n, None
    except UsageError as exc:
        raise UsageError(f"--{exc}") from None


def describe_labels(model: Model, pattern: torch.Tensor) -> str | None:
    """The classes a label pattern draws, by number and recorded name (``0 cats, 1 dogs``)."""
    names = model.data.classes
    if not names:
        return None
    seen = list(dict.fromkeys(int(v) for v in pattern))
    return ", ".join(f"{v} {names[v]}" for v in seen)
