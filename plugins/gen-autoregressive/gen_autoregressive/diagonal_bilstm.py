"""Diagonal BiLSTM: van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural
Networks", section 3.2 and Figure 3, with the residual connections of section 3.4.

Each layer skews its input map, offsetting row r by r positions, so that the diagonals of the
image become columns. An LSTM then runs along the columns: the input-to-state part is a 1x1
mask-B convolution computed for all positions at once, and the state-to-state part a 2x1
convolution over the previous column's states, which in image coordinates are the pixel to the
left and the pixel above. Unskewed, the state at (r, j) has seen everything above and to the
left: the whole causal context, with no blind spot.

The second direction runs on the horizontally flipped map (the pixel to the right and above).
Its state at (r, j) has seen the rest of row r, so its output is shifted down one row before it
is added to the left-to-right output: at (r, j) it then carries rows < r only (section 3.2).

States at skewed positions that hold no pixel are kept at zero, so the recurrence starts each
row from zero as 'same' zero padding would; this lets the cached sampler run the same
recurrence in image coordinates.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import gen
from gen_autoregressive.base import AutoregressiveModel, CachedStepper, Stepper
from gen_autoregressive.fast import Conv
from gen_autoregressive.masks import MaskedConv2d
from gen_autoregressive.row_lstm import RecurrentNet, lstm_cell
from gen_autoregressive.specs import DiagonalBiLSTMSpec


def skew(x: torch.Tensor) -> torch.Tensor:
    """(..., H, W, F) -> (..., H, W + H - 1, F) with row r moved right by r (zeros elsewhere).

    Rows padded to width W + H, laid end to end and re-cut at width W + H - 1: each row then
    starts one place further right than the row above. Features last, so that a column of
    the skewed map is a cheap slice."""
    *lead, h, w, f = x.shape
    flat = F.pad(x, (0, 0, 0, h)).flatten(-3, -2)[..., : h * (w + h - 1), :]
    return flat.reshape(*lead, h, w + h - 1, f)


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """The inverse of `skew`: (..., H, W + H - 1, F) -> (..., H, W, F)."""
    *lead, h, _, f = x.shape
    flat = F.pad(x.flatten(-3, -2), (0, 0, 0, h))
    return flat.reshape(*lead, h, width + h, f)[..., :width, :]


def _inside(rows: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(W + H - 1, H, 1) mask of the skewed positions (t, r) that hold a pixel: r <= t < r + W."""
    t = torch.arange(width + rows - 1, device=like.device)[:, None]
    r = torch.arange(rows, device=like.device)[None, :]
    return ((t >= r) & (t < r + width)).to(like.dtype)[:, :, None]


def pointwise(conv: MaskedConv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 masked convolution on a features-last map (..., F)."""
    return F.linear(x, conv.masked_weight()[:, :, 0, 0], conv.bias)


class DiagonalBiLSTMLayer(nn.Module):
    """Both directions run in one column loop, stacked along a leading axis of size 2, on
    features-last maps.

    The 2x1 state-to-state convolution over the previous column is written as one matrix
    product per direction on the concatenated (above, beside) states, which runs several times
    faster on a CPU than a convolution called once per column."""

    def __init__(self, stream: torch.Tensor, hidden: torch.Tensor):
        super().__init__()
        self.hidden = hd = len(hidden)
        gates = torch.cat([hidden] * 8)  # [o, f, i, g] left-to-right, then right-to-left
        self.input_to_state = MaskedConv2d(stream, gates, 1, "B")
        bound = 1 / math.sqrt(2 * hd)  # nn.Conv1d's default initialisation
        self.state_weight = nn.Parameter(torch.empty(2, 2 * hd, 4 * hd).uniform_(-bound, bound))
        self.state_bias = nn.Parameter(torch.empty(2, 1, 4 * hd).uniform_(-bound, bound))
        self.out = MaskedConv2d(hidden, stream, 1, "B")

    def state_to_state(self, h: torch.Tensor) -> torch.Tensor:
        """States (2, N, H, h) of the previous column -> gate inputs (2, N, H, 4h) from the
        states above (row r - 1) and beside (row r) each position."""
        above = F.pad(h, (0, 0, 1, 0))[:, :, :-1]
        pair = torch.cat([above, h], dim=-1).flatten(1, 2)  # (2, N * H, 2h)
        return torch.baddbmm(self.state_bias, pair, self.state_weight).view(*h.shape[:3], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, rows, width = x.shape
        hd = self.hidden
        pre = pointwise(self.input_to_state, x.permute(0, 2, 3, 1))  # (N, H, W, 8h)
        pre = pre.view(n, rows, width, 2, 4 * hd)
        pre = skew(torch.stack([pre[..., 0, :], pre[..., 1, :].flip(2)]))  # (2, N, H, T, 4h)
        h = c = pre.new_zeros(2, n, rows, hd)  # (direction, N, H, h), one column
        inside = _inside(rows, width, pre)  # (T, H, 1): skewed positions that are pixels
        states = []
        for column, keep in zip(pre.unbind(3), inside, strict=True):  # unbind: one backward
            h, c = lstm_cell(column + self.state_to_state(h), c, dim=-1)
            h, c = h * keep, c * keep  # states off the image stay zero, like zero padding
            states.append(h)
        left, right = unskew(torch.stack(states, dim=3), width)  # (N, H, W, h) each
        both = left + F.pad(right.flip(2), (0, 0, 0, 0, 1, 0))[:, :-1]  # right shifted down
        return x + pointwise(self.out, both).permute(0, 3, 1, 2)


class DiagonalBiLSTM(AutoregressiveModel):
    def build_net(self, spec: DiagonalBiLSTMSpec, data: gen.DataInfo, num_classes: int | None):
        return RecurrentNet(data.channels, self.head.outputs, spec, DiagonalBiLSTMLayer)

    def fast_stepper(self, n: int, labels: torch.Tensor | None) -> Stepper:
        return DiagonalBiLSTMStepper(self, n, labels)


class DiagonalBiLSTMStepper(CachedStepper):
    """Cached sampling in image coordinates. Unskewed, the left-to-right LSTM is the recurrence
    state(r, j) = LSTM(input(r, j), h(r - 1, j), h(r, j - 1), c(r, j - 1)): one update per
    layer per sub-pixel. The right-to-left states of row r need the whole row; they are only
    read by row r + 1 (the shift), so each layer scans the row right to left once it is
    complete. Rows are stored with one zero column at the edge the recurrence enters from."""

    def __init__(self, model: DiagonalBiLSTM, n: int, labels: torch.Tensor | None):
        super().__init__(model, n, labels)
        net, size = model.net, model.data.image_size
        self.layers = []
        for layer in net.layers:
            row = self.x.new_zeros(n, size + 1, layer.hidden)
            self.layers.append({
                "layer": layer, "to_state": Conv(layer.input_to_state), "out": Conv(layer.out),
                "hidden": layer.hidden,
                "inputs": self.x.new_zeros(n, size, layer.input_to_state.in_channels),
                "above": row, "h": row.clone(), "c": row.clone(),  # left-to-right, at j + 1
                "right": row.clone(),  # right-to-left states of the row above, at j
            })

    def logits(self, i: int, j: int, c: int) -> torch.Tensor:
        a = self.input.at(self.image, i, j)
        for st in self.layers:
            layer, hd = st["layer"], st["hidden"]
            st["inputs"][:, j] = a
            pre = st["to_state"].pointwise(a)[:, : 4 * hd]
            pair = torch.cat([st["above"][:, j + 1], st["h"][:, j]], dim=-1)
            gates = pre + torch.addmm(layer.state_bias[0, 0], pair, layer.state_weight[0])
            h, cell = lstm_cell(gates, st["c"][:, j], dim=-1)
            st["h"][:, j + 1], st["c"][:, j + 1] = h, cell
            a = a + st["out"].pointwise(h + st["right"][:, j])
        return self.head(a, c)

    def end_row(self, i: int) -> None:
        for st in self.layers:
            layer, hd = st["layer"], st["hidden"]
            pre = st["to_state"].pointwise(st["inputs"])[..., 4 * hd :]  # (N, W, 4h)
            h, c = torch.zeros_like(st["right"]), torch.zeros_like(st["right"])
            for j in reversed(range(pre.shape[1])):
                pair = torch.cat([st["right"][:, j], h[:, j + 1]], dim=-1)
                gates = pre[:, j] + torch.addmm(layer.state_bias[1, 0], pair,
                                                layer.state_weight[1])
                h[:, j], c[:, j] = lstm_cell(gates, c[:, j + 1], dim=-1)
            st["right"] = h
            st["above"], st["h"], st["c"] = st["h"], torch.zeros_like(h), torch.zeros_like(h)
