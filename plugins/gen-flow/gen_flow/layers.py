"""The invertible layers both flows are built from, and the multi-scale container.

Every layer maps a batch ``x`` (N, C, H, W) to ``(y, logdet)`` with ``logdet`` of shape (N,):
log |det dy/dx| per example, in nats; ``inverse(y)`` gives ``x`` back. Layers keep the dtype of
their input: under autocast the convolutions inside coupling networks run in low precision, but
their outputs are cast back, so the flow's state and every log-determinant stay float32 (or
float64 when the module is).

`MultiScale` chains levels of layers, factoring out half of the variables after each level but
the last (Dinh et al. 2017, section 3.6); the factored-out halves are scored by a `Split`
prior, the last level's output by a standard normal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor | None = None,
                      log_std: torch.Tensor | None = None) -> torch.Tensor:
    """log N(z; mean, exp(log_std)^2) summed per example, shape (N,); N(0, I) by default."""
    if mean is None:
        return -0.5 * (LOG_2PI + z * z).flatten(1).sum(1)
    d = (z - mean) * torch.exp(-log_std)
    return (-0.5 * (LOG_2PI + d * d) - log_std).flatten(1).sum(1)


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2): each 2x2 block of a channel becomes 4 channels
    (channel c becomes channels 4c .. 4c + 3)."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `squeeze`."""
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)


def _zero_logdet(x: torch.Tensor) -> torch.Tensor:
    return x.new_zeros(x.shape[0])


class Squeeze(nn.Module):
    """`squeeze` as a layer (a permutation: log-determinant 0)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return squeeze(x), _zero_logdet(x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return unsqueeze(y)


class ZeroConv2d(nn.Module):
    """A convolution initialised to output zeros, its output scaled per channel by
    exp(3 * logs) (Glow's ``Conv2dZeros``): the last layer of every coupling and prior network,
    so each starts as the identity (or the standard-normal prior)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.logs = nn.Parameter(torch.zeros(1, cout, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * torch.exp(self.logs * 3)


# -- RealNVP ---------------------------------------------------------------------------------


class ResidualBlock(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.conv1 = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.conv2(F.relu(self.conv1(F.relu(h))))


class ResNet(nn.Module):
    """RealNVP's coupling network: a 3x3 convolution to ``hidden`` features, ``blocks``
    residual blocks of two 3x3 convolutions, ReLU and a zero-initialised 3x3 convolution to
    ``cout`` outputs."""

    def __init__(self, cin: int, cout: int, hidden: int, blocks: int):
        super().__init__()
        self.inp = nn.Conv2d(cin, hidden, 3, padding=1)
        self.blocks = nn.Sequential(*(ResidualBlock(hidden) for _ in range(blocks)))
        self.out = ZeroConv2d(hidden, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.blocks(self.inp(x))))


def checkerboard(size: int, parity: int) -> torch.Tensor:
    """(1, 1, size, size): 1 where (i + j) % 2 == parity (the conditioning half), else 0."""
    i = torch.arange(size)
    return ((i[:, None] + i[None, :]) % 2 == parity).float().view(1, 1, size, size)


class CheckerboardCoupling(nn.Module):
    """RealNVP's affine coupling with a spatial checkerboard mask b (section 3.4, eq. 9):
    y = b * x + (1 - b) * (x * exp(s(b * x)) + t(b * x)), with s = scale * tanh(raw) and a
    learned scale per channel (the bounded scale of the paper's code). The network also sees
    the mask, so it knows which positions it is given."""

    def __init__(self, channels: int, size: int, parity: int, hidden: int, blocks: int):
        super().__init__()
        self.register_buffer("mask", checkerboard(size, parity), persistent=False)
        self.net = ResNet(channels + 1, 2 * channels, hidden, blocks)
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))

    def _shift_scale(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = self.mask.to(kept.dtype)
        given = torch.cat([kept, mask.expand(kept.shape[0], 1, *kept.shape[2:])], 1)
        raw, t = self.net(given).to(kept.dtype).chunk(2, 1)
        s = self.scale * torch.tanh(raw)
        free = 1 - mask
        return s * free, t * free

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._shift_scale(x * self.mask.to(x.dtype))
        return x * torch.exp(s) + t, s.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        s, t = self._shift_scale(y * self.mask.to(y.dtype))
        return (y - t) * torch.exp(-s)


class ChannelCoupling(nn.Module):
    """RealNVP's affine coupling with a channel-wise mask (section 3.4): one half of the
    channels (the first, or the second when ``flip``) conditions an affine map of the other,
    s = scale * tanh(raw) as in `CheckerboardCoupling`."""

    def __init__(self, channels: int, flip: bool, hidden: int, blocks: int):
        super().__init__()
        if channels % 2:
            raise ValueError(f"a channel-wise coupling needs an even channel count ({channels})")
        self.flip = flip
        half = channels // 2
        self.net = ResNet(half, 2 * half, hidden, blocks)
        self.scale = nn.Parameter(torch.ones(1, half, 1, 1))

    def _halves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = x.chunk(2, 1)
        return (b, a) if self.flip else (a, b)

    def _join(self, kept: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
        return torch.cat([changed, kept] if self.flip else [kept, changed], 1)

    def _shift_scale(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw, t = self.net(kept).to(kept.dtype).chunk(2, 1)
        return self.scale * torch.tanh(raw), t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept, changed = self._halves(x)
        s, t = self._shift_scale(kept)
        return self._join(kept, changed * torch.exp(s) + t), s.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        kept, changed = self._halves(y)
        s, t = self._shift_scale(kept)
        return self._join(kept, (changed - t) * torch.exp(-s))


# -- Glow --------------------------------------------------------------------------------------


class ActNorm(nn.Module):
    """Glow's activation normalisation (section 3.1): y = (x + bias) * exp(logs) per channel,
    log-determinant H * W * sum(logs). Data-dependent initialisation: the first batch that
    passes while ``pending`` is set (`MultiScale.data_init`) sets bias and logs so that its
    output has zero mean and unit variance per channel. The ``initialised`` flag is a buffer,
    saved in checkpoints, so a resumed run never initialises again."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialised", torch.tensor(False))
        self.pending = False  # set only inside MultiScale.data_init
        self.reduce = None  # averages statistics over processes during data_init

    @torch.no_grad()
    def _initialise(self, x: torch.Tensor) -> None:
        x = x.float() if x.device.type == "mps" else x.double()  # MPS has no float64
        mean = x.mean((0, 2, 3))
        square = (x * x).mean((0, 2, 3))
        if self.reduce is not None:
            mean, square = self.reduce(mean), self.reduce(square)
        std = (square - mean * mean).clamp(min=0).sqrt()
        self.bias.copy_((-mean).view_as(self.bias))
        self.logs.copy_((-torch.log(std + 1e-6)).view_as(self.logs))
        self.initialised.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pending and not bool(self.initialised):
            self._initialise(x)
        logs = self.logs.to(x.dtype)
        logdet = (logs.sum() * (x.shape[2] * x.shape[3])).expand(x.shape[0])
        return (x + self.bias.to(x.dtype)) * torch.exp(logs), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.logs.to(y.dtype)) - self.bias.to(y.dtype)


class InvConv1x1(nn.Module):
    """Glow's invertible 1x1 convolution in its LU-decomposed form (section 3.2, eq. 10):
    W = P L (U + diag(sign(s) * exp(log|s|))), with the permutation P and the signs fixed and
    L (unit lower triangular), U (strictly upper) and log|s| learned; log-determinant
    H * W * sum(log|s|). Initialised from a random rotation."""

    def __init__(self, channels: int):
        super().__init__()
        w = torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(w)
        s = upper.diagonal()
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1),
                             persistent=False)
        self.register_buffer("eye", torch.eye(channels), persistent=False)
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> torch.Tensor:
        """W in the parameters' dtype, never autocast (its determinant must be exp(sum log|s|)
        to the parameters' precision)."""
        with torch.autocast(self.p.device.type, enabled=False):
            lower = self.lower * self.lower_mask + self.eye
            diag = torch.diag(self.sign_s * torch.exp(self.log_s))
            return self.p @ lower @ (self.upper * self.lower_mask.T + diag)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weight()
        y = F.conv2d(x, w.view(*w.shape, 1, 1).to(x.dtype)).to(x.dtype)
        logdet = (self.log_s.sum() * (x.shape[2] * x.shape[3])).to(x.dtype).expand(x.shape[0])
        return y, logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        # float64 where the device has it: the inverse of a near-singular W stays accurate
        wide = torch.float32 if y.device.type == "mps" else torch.float64
        w_inv = torch.linalg.inv(self.weight().to(wide)).to(y.dtype)
        return F.conv2d(y, w_inv.view(*w_inv.shape, 1, 1))


class GlowCoupling(nn.Module):
    """Glow's affine coupling (section 3.3, Table 1): the first half of the channels gives,
    through a 3x3 convolution, ReLU, a 1x1 convolution, ReLU and a zero-initialised 3x3
    convolution, a shift and a scale sigmoid(raw + 2) for the second half:
    y_b = (x_b + shift) * scale, as in the paper's code."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        if channels % 2:
            raise ValueError(f"an affine coupling needs an even channel count ({channels})")
        half = channels // 2
        self.net = nn.Sequential(
            nn.Conv2d(half, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            ZeroConv2d(hidden, 2 * half),
        )

    def _shift_log_scale(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(kept).to(kept.dtype)
        return h[:, 0::2], F.logsigmoid(h[:, 1::2] + 2.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept, changed = x.chunk(2, 1)
        shift, log_scale = self._shift_log_scale(kept)
        y = torch.cat([kept, (changed + shift) * torch.exp(log_scale)], 1)
        return y, log_scale.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        kept, changed = y.chunk(2, 1)
        shift, log_scale = self._shift_log_scale(kept)
        return torch.cat([kept, changed * torch.exp(-log_scale) - shift], 1)


class FlowStep(nn.Sequential):
    """Layers applied in order; the log-determinants add up."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = _zero_logdet(x)
        for layer in self:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self):
            y = layer.inverse(y)
        return y


# -- multi-scale -------------------------------------------------------------------------------


class Split(nn.Module):
    """Factors out the second half of the channels as latent variables. Their prior is
    N(0, I) (``learned=False``, RealNVP) or, as in Glow's code (``split2d``), a diagonal
    Gaussian whose mean and log standard deviation a zero-initialised 3x3 convolution computes
    from the kept half (so it starts as N(0, I))."""

    def __init__(self, channels: int, learned: bool):
        super().__init__()
        half = channels // 2
        self.prior = ZeroConv2d(half, 2 * half) if learned else None

    def params(self, kept: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if self.prior is None:
            return None, None
        h = self.prior(kept).to(kept.dtype)
        return h[:, 0::2], h[:, 1::2]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(kept half, factored-out half z, log p(z | kept) per example)."""
        kept, z = x.chunk(2, 1)
        return kept, z, gaussian_log_prob(z, *self.params(kept))

    def draw(self, kept: torch.Tensor, eps: torch.Tensor, temperature: float) -> torch.Tensor:
        """z for standard-normal noise ``eps``: mean + temperature * std * eps."""
        mean, log_std = self.params(kept)
        if mean is None:
            return temperature * eps
        return mean + temperature * torch.exp(log_std) * eps


class MultiScale(nn.Module):
    """Levels of invertible layers; after every level but the last a `Split` factors out half
    of the channels. ``forward(x)`` is the log-density of x (N,) in nats: the priors' log
    probabilities plus every log-determinant."""

    def __init__(self, levels: list[FlowStep], splits: list[Split | None],
                 shapes: list[tuple[int, int, int]]):
        super().__init__()
        self.levels = nn.ModuleList(levels)
        self.splits = nn.ModuleList(s if s is not None else nn.Identity() for s in splits)
        self.shapes = shapes  # (C, H, W) of each latent part: the factored-out ones, the top

    def _split(self, i: int) -> Split | None:
        s = self.splits[i]
        return s if isinstance(s, Split) else None

    def encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """(latent parts in `shapes` order, log p of the parts, sum of log-determinants)."""
        zs, log_pz, logdet = [], _zero_logdet(x), _zero_logdet(x)
        for i, level in enumerate(self.levels):
            x, ld = level(x)
            logdet = logdet + ld
            split = self._split(i)
            if split is not None:
                x, z, lp = split(x)
                zs.append(z)
                log_pz = log_pz + lp
        zs.append(x)
        return zs, log_pz + gaussian_log_prob(x), logdet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, log_pz, logdet = self.encode(x)
        return log_pz + logdet

    def decode(self, zs: list[torch.Tensor]) -> torch.Tensor:
        """The inverse of `encode` for latent parts ``zs``."""
        x = zs[-1]
        parts = iter(reversed(zs[:-1]))
        for i in reversed(range(len(self.levels))):
            if self._split(i) is not None:
                x = torch.cat([x, next(parts)], 1)
            x = self.levels[i].inverse(x)
        return x

    def decode_noise(self, eps: list[torch.Tensor], temperature: float) -> torch.Tensor:
        """Images for standard-normal noise ``eps`` (one tensor per latent part): the top part
        is temperature * eps, each factored-out part is drawn from its prior given the part
        above it (mean + temperature * std * eps)."""
        x = temperature * eps[-1]
        parts = iter(reversed(eps[:-1]))
        for i in reversed(range(len(self.levels))):
            split = self._split(i)
            if split is not None:
                x = torch.cat([x, split.draw(x, next(parts), temperature)], 1)
            x = self.levels[i].inverse(x)
        return x

    def noise(self, n: int, generator: torch.Generator | None, device: torch.device,
              dtype: torch.dtype) -> list[torch.Tensor]:
        """Standard-normal noise for every latent part, drawn top part first."""
        eps = [torch.empty(0)] * len(self.shapes)
        for i in reversed(range(len(self.shapes))):
            eps[i] = torch.randn(n, *self.shapes[i], generator=generator, device=device,
                                 dtype=dtype)
        return eps

    def actnorms(self) -> list[ActNorm]:
        return [m for m in self.modules() if isinstance(m, ActNorm)]

    @property
    def initialised(self) -> bool:
        """Whether every actnorm layer has had its data-dependent initialisation (True for a
        flow without any)."""
        return all(bool(m.initialised) for m in self.actnorms())

    @torch.no_grad()
    def data_init(self, x: torch.Tensor, reduce=None) -> None:
        """Initialise every actnorm layer from the batch ``x``, in order (each sees the
        output of the layers before it, already initialised). ``reduce`` averages a tensor of
        statistics over processes in a multi-process run."""
        layers = self.actnorms()
        for m in layers:
            m.pending, m.reduce = True, reduce
        try:
            self.encode(x)
        finally:
            for m in layers:
                m.pending, m.reduce = False, None
