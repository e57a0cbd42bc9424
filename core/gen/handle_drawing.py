"""The drawing part of `gen.Run`: samples, in one tensor or batch by batch, interpolations
between latents, and the sampling settings a draw uses. Mixed into `Run`, whose ``model`` and
``plugin_code`` these use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from gen.arguments import seed as check_seed
from gen.arguments import whole
from gen.plugin_code import guarded
from gen.resources import refuse_beyond_memory
from gen.sampling import (
    INTERPOLATION_STEPS,
    STRIP_ENDS,
    check_labels,
    generate_batches,
    interpolation_batches,
)
from gen.sampling_options import SamplingOptions


class Drawing:
    """`Run`'s methods that draw images from its weights."""

    def sample(self, n: int, seed: int = 0, labels: Sequence[int] | torch.Tensor | None = None,
               batch_size: int = 256, temperature: float | None = None, *,
               sampler: str | None = None, steps: int | None = None, eta: float | None = None,
               guidance: float | None = None, truncation: float | None = None) -> torch.Tensor:
        """``n`` images as uint8 ``(n, C, H, W)`` on the CPU. The same seed (and batch size)
        gives the same images. ``labels`` (conditional models) are repeated to fill ``n``;
        without them the classes cycle 0, 1, 2, ... ``temperature``: for models whose
        ``sample`` takes one (flows). ``sampler``, ``steps``, ``eta``, ``guidance``: for
        iterative models (None: the model's default; see `sampling_settings`).
        ``truncation`` T: for models with a truncatable latent (GANs, VAEs, flows), the
        truncation trick: every latent element beyond T in absolute value is drawn again, and
        the images are ``generate(z)`` (a VAE's decoder means). Anything a model cannot use is
        a `gen.UsageError`; images of the wrong shape, or NaN, a `gen.PluginError` naming the
        model's plugin."""
        n = whole(n, "n")
        d = self.model.data
        refuse_beyond_memory(n, d.channels * d.image_size ** 2, "n", "the images",
                             "Draw them in batches with sample_batches(n), which holds one.")
        return _filled(n, self.sample_batches(
            n, seed, labels, batch_size, temperature, sampler=sampler, steps=steps, eta=eta,
            guidance=guidance, truncation=truncation))

    def sample_batches(self, n: int, seed: int = 0,
                       labels: Sequence[int] | torch.Tensor | None = None,
                       batch_size: int = 256, temperature: float | None = None, *,
                       sampler: str | None = None, steps: int | None = None,
                       eta: float | None = None, guidance: float | None = None,
                       truncation: float | None = None) -> Iterator[torch.Tensor]:
        """The images of `sample`, ``batch_size`` at a time, for more than fit in memory.
        Every mistake in the arguments is raised here, not at the first batch."""
        n, seed, batch_size = whole(n, "n"), check_seed(seed), whole(batch_size, "batch_size")
        options = SamplingOptions(sampler, steps, eta, guidance, truncation)
        model = self.model
        pattern = None if labels is None else check_labels(model, labels)
        with self.plugin_code("sample"):
            options.resolve(model)
        return guarded(generate_batches(model, n, seed, pattern, batch_size, temperature,
                                        options), lambda: self.plugin_code("sample"))

    def interpolate(self, rows: int, seed: int = 0, steps: int = INTERPOLATION_STEPS,
                    labels: Sequence[int] | torch.Tensor | None = None, *,
                    truncation: float | None = None, batch_size: int = 256) -> torch.Tensor:
        """``rows`` strips of ``steps`` images each, uint8 ``(rows * steps, C, H, W)`` on the
        CPU in row-major order (a grid of ``steps`` per row): row i decodes the spherical
        interpolation between two latents drawn from ``seed``, ending on the images of those
        latents. For every model with a latent (GANs, VAEs, flows: ``latent-interpolation``
        in `gen list-models`); a conditional model keeps one class per row, ``labels``
        repeated over the rows or else the classes cycling. ``truncation``: draw the two ends
        truncated (as in `sample`). `gen sample --interpolate` on a model without an encoder
        writes these images."""
        rows, seed = whole(rows, "rows"), check_seed(seed)
        steps = whole(steps, "steps", 2, why=STRIP_ENDS)
        batch_size = whole(batch_size, "batch_size")
        model = self.model
        d = model.data
        refuse_beyond_memory(rows * steps, d.channels * d.image_size ** 2, "rows * steps",
                             "the images", "Ask for fewer rows.")
        pattern = None if labels is None else check_labels(model, labels)
        with self.plugin_code("interpolate"):
            return _filled(rows * steps, interpolation_batches(model, rows, seed, steps, pattern,
                                                               truncation, batch_size))

    def sampling_settings(self, sampler: str | None = None, steps: int | None = None,
                          eta: float | None = None, guidance: float | None = None,
                          truncation: float | None = None) -> dict[str, Any]:
        """The settings `sample` draws with for these options: the model's
        ``sampling_defaults()`` overlaid with those given (``{"sampler": "ddim", "steps": 50,
        "eta": 0.0}``, ``{"truncation": 0.7}``), as records store them; empty for a model
        that draws in one pass, asked for nothing."""
        options = SamplingOptions(sampler, steps, eta, guidance, truncation)
        with self.plugin_code("sampling_defaults"):
            return options.resolve(self.model)


def _filled(n: int, batches: Iterator[torch.Tensor]) -> torch.Tensor:
    """The ``n`` images of ``batches`` in one tensor, filled batch by batch: memory holds the
    result and one batch, not the batches and their concatenation."""
    out, at = None, 0
    for batch in batches:
        if out is None:
            out = torch.empty((n, *batch.shape[1:]), dtype=batch.dtype)
        out[at:at + batch.shape[0]] = batch
        at += batch.shape[0]
    assert out is not None and at == n, f"{at} images drawn, {n} asked for"
    return out
