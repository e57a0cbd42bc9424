"""`assert_causal`: check that an autoregressive image model only looks at the past.

The order is raster-then-channel: sub-pixel (i, j, c) comes before (i', j', c') when
(i, j, c) < (i', j', c') lexicographically, i.e. rows top to bottom, pixels left to right, and
within a pixel channel 0 (R) -> 1 (G) -> 2 (B) (van den Oord et al. 2016a, eq. 2). A model is
causal when the output that parametrises p(x[c, i, j] | ...) has zero gradient with respect to
the input at (i, j, c) and at every later sub-pixel. A model that is causal only because it
ignores its input is no model, so every output but the first must also have a non-zero gradient
with respect to some earlier sub-pixel.

One backward pass checks many outputs at once: batch element ``p`` of the probe stands for the
p-th checked position, and only that element's output at that position enters the sum that is
differentiated. That needs ``logits_fn`` to treat batch elements independently (no batch norm in
training mode, no mixing across the batch), which autoregressive models do in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch

Position = tuple[int, int, int]  # (row, col, channel)


def raster_order(shape: Sequence[int]) -> list[Position]:
    """Every (row, col, channel) of a (C, H, W) image, in raster-then-channel order."""
    c, h, w = shape
    return [(i, j, k) for i in range(h) for j in range(w) for k in range(c)]


def assert_causal(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    shape: Sequence[int],
    positions: Iterable[Position] | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
    seed: int = 0,
    probes: int = 2,
    chunk: int = 256,
) -> None:
    """Raise AssertionError unless ``logits_fn`` is causal in raster-then-channel order.

    ``logits_fn(x)`` takes images ``x`` of shape (N, C, H, W) (``shape`` is (C, H, W); the
    values are uniform in [-1, 1], of ``dtype`` on ``device``) and returns the per-sub-pixel
    outputs, shaped (N, C, H, W) or (N, C, H, W, K): ``out[n, c, i, j]`` are the logits (or
    log-probabilities, or probabilities) of the distribution of ``x[n, c, i, j]``. Each output
    vector is reduced with fixed random weights, so probabilities, which sum to one, are
    checked as well as logits.

    ``positions`` limits the check to some (row, col, channel) outputs (default: all). Each
    output is probed with ``probes`` random images: no probe may show a dependence on the
    present or future, and at least one must show one on the past (a single input can hide it,
    e.g. behind ReLUs that all happen to be off there).
    "Zero" is exact: a masked weight contributes exactly nothing, so any leak is a bug. Use a
    float64 model (``dtype`` default) so that no convolution algorithm blurs the zeros.
    """
    c, h, w = shape
    wanted = list(positions) if positions is not None else raster_order(shape)
    todo = [pos for pos in wanted for _ in range(probes)]
    rank = torch.arange(h * w * c, device=device).view(h, w, c).permute(2, 0, 1)  # (C, H, W)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    found: dict[Position, int] = {}  # how many probes of each output depended on the past
    for start in range(0, len(todo), chunk):
        batch = todo[start : start + chunk]
        x = (torch.rand(len(batch), c, h, w, generator=gen, dtype=dtype) * 2 - 1).to(device)
        x.requires_grad_(True)
        out = logits_fn(x)
        if out.dim() == 4:
            out = out.unsqueeze(-1)
        if tuple(out.shape[:4]) != (len(batch), c, h, w):
            raise AssertionError(
                f"logits_fn returned shape {tuple(out.shape)}; expected (N, C, H, W[, K]) = "
                f"({len(batch)}, {c}, {h}, {w}[, K])"
            )
        weights = torch.rand(out.shape[-1], generator=gen, dtype=dtype).to(device) + 0.5
        rows, cols, chans = (torch.tensor(v, device=device) for v in zip(*batch, strict=True))
        picked = out[torch.arange(len(batch), device=device), chans, rows, cols]  # (P, K)
        (grad,) = torch.autograd.grad((picked * weights).sum(), x)
        for p, pos in enumerate(batch):
            found[pos] = found.get(pos, 0) + _check_one(grad[p], rank, pos)
    for (i, j, k), count in found.items():
        if count == 0 and rank[k, i, j] > 0:
            raise AssertionError(
                f"the output for (row {i}, col {j}, channel {k}) depends on no earlier "
                "sub-pixel: the model ignores its input"
            )


def _check_one(grad: torch.Tensor, rank: torch.Tensor, pos: Position) -> int:
    """Raise on a dependence on the present or future; return 1 if one on the past shows."""
    i, j, k = pos
    own = rank[k, i, j]
    leaks = (grad != 0) & (rank >= own)
    if leaks.any():
        lc, li, lj = (v.item() for v in leaks.nonzero()[0])
        which = "itself" if (li, lj, lc) == (i, j, k) else f"(row {li}, col {lj}, channel {lc})"
        raise AssertionError(
            f"not causal: the output for (row {i}, col {j}, channel {k}) depends on the input "
            f"at {which}, which is not earlier in raster-then-channel order "
            f"(gradient {grad[lc, li, lj].item():.3g})"
        )
    return int(((grad != 0) & (rank < own)).any())
