"""Gated PixelCNN: van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016,
"Conditional Image Generation with PixelCNN Decoders", section 2 and Figure 2.

Two stacks remove the PixelCNN's blind spot. The vertical stack sees every pixel of the rows
above and of its own row (a k x k convolution masked below the centre row); before the
horizontal stack reads it, through a 1x1 convolution, it is shifted down one row, so position
(i, j) only gets rows < i from it. The horizontal stack sees the pixels to the left in its own
row (a 1 x k convolution masked right of the centre; mask A on the colour groups in the first
layer, B after) and is residual. Both use the gated unit tanh(W_f * x + V_f h) * sigmoid(W_g * x
+ V_g h) (eq. 2 and 4), where h is a learned embedding of the class label when conditional.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import gen
from gen_autoregressive.base import AutoregressiveModel, Stepper
from gen_autoregressive.fast import Conv, write
from gen_autoregressive.masks import MaskedConv2d, channel_groups, gate, shift_down
from gen_autoregressive.specs import GatedPixelCNNSpec


class GatedLayer(nn.Module):
    def __init__(self, inputs: torch.Tensor, hidden: torch.Tensor, kernel: int, first: bool,
                 num_classes: int | None):
        super().__init__()
        gates = torch.cat([hidden, hidden])  # the tanh and sigmoid halves, grouped alike
        self.residual = not first
        self.v_conv = MaskedConv2d(inputs, gates, kernel, "vertical")
        self.v_to_h = nn.Conv2d(len(gates), len(gates), 1)  # rows above only: any group
        self.h_conv = MaskedConv2d(inputs, gates, (1, kernel), "A" if first else "B")
        self.h_out = MaskedConv2d(hidden, hidden, 1, "B")
        self.v_embed = self.h_embed = None
        if num_classes is not None:
            self.v_embed = nn.Embedding(num_classes, len(gates))
            self.h_embed = nn.Embedding(num_classes, len(gates))

    def forward(self, v: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None):
        v_pre = self.v_conv(v)
        h_pre = self.h_conv(h) + shift_down(self.v_to_h(v_pre))
        if self.v_embed is not None:
            v_pre = v_pre + self.v_embed(y)[:, :, None, None]
            h_pre = h_pre + self.h_embed(y)[:, :, None, None]
        h_out = self.h_out(gate(h_pre))
        return gate(v_pre), (h + h_out if self.residual else h_out)


class GatedPixelCNNNet(nn.Module):
    """Images (N, C, H, W) and labels (N,) when conditional -> outputs (N, C * K, H, W)."""

    def __init__(self, channels: int, outputs: int, spec: GatedPixelCNNSpec,
                 num_classes: int | None):
        super().__init__()
        self.num_classes = num_classes
        groups = lambda n: channel_groups(n, channels)  # noqa: E731
        self.layers = nn.ModuleList(
            GatedLayer(groups(channels if i == 0 else spec.hidden), groups(spec.hidden),
                       spec.first_kernel if i == 0 else spec.kernel, i == 0, num_classes)
            for i in range(spec.layers)
        )
        self.out1 = MaskedConv2d(groups(spec.hidden), groups(spec.output_hidden), 1, "B")
        self.out2 = MaskedConv2d(groups(spec.output_hidden), groups(channels * outputs), 1, "B")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes is not None and y is None:
            raise ValueError("this network is class-conditional: pass labels y")
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, y)
        return self.out2(F.relu(self.out1(F.relu(h))))


class GatedPixelCNN(AutoregressiveModel):
    def build_net(self, spec: GatedPixelCNNSpec, data: gen.DataInfo, num_classes: int | None):
        return GatedPixelCNNNet(data.channels, self.head.outputs, spec, num_classes)

    def fast_stepper(self, n: int, labels: torch.Tensor | None) -> Stepper:
        return GatedPixelCNNStepper(self, n, labels)


class GatedPixelCNNStepper(Stepper):
    """Cached sampling. The vertical stack is computed a row at a time once that row is
    complete (row i feeds row i + 1 only); the horizontal stack, one position per sub-pixel,
    reading the cached inputs of its 1 x k convolutions."""

    def __init__(self, model: GatedPixelCNN, n: int, labels: torch.Tensor | None):
        super().__init__(model, n, labels)
        net, size = model.net, model.data.image_size
        self.shape = (n, model.data.channels, model.head.outputs)
        self.layers = []
        for layer in net.layers:
            v_conv, h_conv = Conv(layer.v_conv), Conv(layer.h_conv)
            embed = layer.v_embed is not None
            self.layers.append({
                "layer": layer,
                "v_conv": v_conv, "v_to_h": Conv(layer.v_to_h),
                "h_conv": h_conv, "h_out": Conv(layer.h_out),
                "v_in": v_conv.buffer(n, size, self.x),  # cache of this layer's inputs
                "h_in": h_conv.buffer(n, size, self.x),
                "v2h": torch.zeros(n, v_conv.out_features, size, dtype=self.x.dtype,
                                   device=self.x.device),  # from the row above
                "v_cond": layer.v_embed(labels)[:, :, None] if embed else None,
                "h_cond": layer.h_embed(labels) if embed else None,
            })
        self.out1, self.out2 = Conv(net.out1), Conv(net.out2)

    def logits(self, i: int, j: int, c: int) -> torch.Tensor:
        h = None
        for k, st in enumerate(self.layers):
            pre = st["h_conv"].at(st["h_in"], i, j) + st["v2h"][:, :, j]
            if st["h_cond"] is not None:
                pre = pre + st["h_cond"]
            out = st["h_out"].pointwise(gate(pre))
            h = h + out if st["layer"].residual else out
            if k + 1 < len(self.layers):
                nxt = self.layers[k + 1]
                write(nxt["h_in"], nxt["h_conv"], i, j, h)
        out = self.out2.pointwise(F.relu(self.out1.pointwise(F.relu(h))))
        return out.view(self.shape)[:, c]

    def commit(self, i: int, j: int, c: int, value: torch.Tensor) -> None:
        super().commit(i, j, c, value)
        first = self.layers[0]
        for buf, conv in ((first["v_in"], first["v_conv"]), (first["h_in"], first["h_conv"])):
            buf[:, c, i + conv.kh // 2, j + conv.kw // 2] = value

    def end_row(self, i: int) -> None:
        """Row i is final: run the vertical stack along it, for row i + 1 to read."""
        for k, st in enumerate(self.layers):
            pre = st["v_conv"].row(st["v_in"], i)  # (N, 2h, W)
            st["v2h"] = F.conv2d(pre[:, :, None], st["layer"].v_to_h.weight,
                                 st["layer"].v_to_h.bias)[:, :, 0]
            if st["v_cond"] is not None:
                pre = pre + st["v_cond"]
            if k + 1 < len(self.layers):
                nxt = self.layers[k + 1]
                pad_h, pad_w = nxt["v_conv"].kh // 2, nxt["v_conv"].kw // 2
                nxt["v_in"][:, :, i + pad_h, pad_w : pad_w + pre.shape[-1]] = gate(pre)
