"""Row LSTM: van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks",
section 3.1, with the residual connections of section 3.4.

A 7x7 mask-A convolution, then layers that process the image one row at a time (eq. 3):

    [o, f, i, g] = [sigmoid, sigmoid, sigmoid, tanh](K_ss * h_{r-1} + K_is * x_r)
    c_r = f . c_{r-1} + i . g,     h_r = o . tanh(c_r)

K_is is a k x 1 convolution along the row, masked (mask B on the colour groups) so it reads the
pixels to the left; it is computed for the whole image at once. K_ss is an unmasked 3x1
convolution of the previous row's state, so position (r, j) sees a triangle of rows above.
Each layer maps its 2h-feature input to h-dimensional states and back with a 1x1 mask-B
convolution, added to the input. ReLU + 1x1 output layers as in the PixelCNN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import gen
from gen_autoregressive.base import AutoregressiveModel, CachedStepper, Stepper
from gen_autoregressive.fast import Conv, write
from gen_autoregressive.masks import MaskedConv2d, channel_groups
from gen_autoregressive.specs import RowLSTMSpec


def lstm_cell(
    gates: torch.Tensor, c: torch.Tensor, dim: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM update from pre-activations laid out [o, f, i, g] along ``dim``."""
    o, f, i, g = gates.chunk(4, dim=dim)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTMLayer(nn.Module):
    def __init__(self, stream: torch.Tensor, hidden: torch.Tensor, kernel: int):
        super().__init__()
        self.hidden = len(hidden)
        gates = torch.cat([hidden] * 4)  # o, f, i, g, each grouped like the state
        self.input_to_state = MaskedConv2d(stream, gates, (1, kernel), "B")
        self.state_to_state = nn.Conv1d(self.hidden, len(gates), 3, padding=1)
        self.out = MaskedConv2d(hidden, stream, 1, "B")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, _, width = x.shape
        h = c = x.new_zeros(n, self.hidden, width)
        states = []
        for row in self.input_to_state(x).unbind(2):  # one backward for all slices
            h, c = lstm_cell(row + self.state_to_state(h), c)
            states.append(h)
        return x + self.out(torch.stack(states, dim=2))


class RecurrentNet(nn.Module):
    """The PixelRNN body shared by Row LSTM and Diagonal BiLSTM (section 3.4 and figure 2): a
    7x7 mask-A convolution, a stack of recurrent layers made by ``make_layer(stream, hidden)``,
    then two 1x1 mask-B layers with ReLUs."""

    def __init__(self, channels: int, outputs: int, spec, make_layer):
        super().__init__()
        self.num_classes = None
        groups = lambda n: channel_groups(n, channels)  # noqa: E731
        stream = groups(2 * spec.hidden)
        self.input = MaskedConv2d(groups(channels), stream, 7, "A")
        self.layers = nn.ModuleList(
            make_layer(stream, groups(spec.hidden)) for _ in range(spec.layers)
        )
        self.out1 = MaskedConv2d(stream, groups(spec.output_hidden), 1, "B")
        self.out2 = MaskedConv2d(groups(spec.output_hidden), groups(channels * outputs), 1, "B")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        a = self.input(x)
        for layer in self.layers:
            a = layer(a)
        return self.out2(F.relu(self.out1(F.relu(a))))


class RowLSTM(AutoregressiveModel):
    def build_net(self, spec: RowLSTMSpec, data: gen.DataInfo, num_classes: int | None):
        return RecurrentNet(
            data.channels, self.head.outputs, spec,
            lambda stream, hidden: RowLSTMLayer(stream, hidden, spec.kernel),
        )

    def fast_stepper(self, n: int, labels: torch.Tensor | None) -> Stepper:
        return RowLSTMStepper(self, n, labels)


class RowLSTMStepper(CachedStepper):
    """Row-wise state carrying: each layer keeps the previous row's states (h, c) and
    K_ss * h_{r-1}; a sub-pixel then costs one LSTM update per layer at its own position."""

    def __init__(self, model: RowLSTM, n: int, labels: torch.Tensor | None):
        super().__init__(model, n, labels)
        net, size = model.net, model.data.image_size
        self.layers = []
        for layer in net.layers:
            state = self.x.new_zeros(n, layer.hidden, size)
            to_state = Conv(layer.input_to_state)
            self.layers.append({
                "layer": layer, "to_state": to_state, "out": Conv(layer.out),
                "in": to_state.buffer(n, size, self.x),
                "h": state, "c": state.clone(),  # the row above
                "h_new": state.clone(), "c_new": state.clone(),  # the row being sampled
                "ss": layer.state_to_state(state),
            })

    def logits(self, i: int, j: int, c: int) -> torch.Tensor:
        a = self.input.at(self.image, i, j)
        for st in self.layers:
            write(st["in"], st["to_state"], i, j, a)
            gates = st["to_state"].at(st["in"], i, j) + st["ss"][:, :, j]
            h, cell = lstm_cell(gates, st["c"][:, :, j])
            st["h_new"][:, :, j], st["c_new"][:, :, j] = h, cell
            a = a + st["out"].pointwise(h)
        return self.head(a, c)

    def end_row(self, i: int) -> None:
        for st in self.layers:
            st["h"], st["c"] = st["h_new"].clone(), st["c_new"].clone()
            st["ss"] = st["layer"].state_to_state(st["h"])
