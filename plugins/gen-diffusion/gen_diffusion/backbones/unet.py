"""The U-Net noise (or velocity) predictor of Ho et al. 2020 (appendix B), after PixelCNN++:
a sinusoidal time embedding through an MLP, residual blocks with GroupNorm, SiLU, dropout and
the time embedding added between their two convolutions, single-head self-attention at chosen
resolutions, a channel multiplier per level and skip connections from every down-sampling block
to the up-sampling path. An optional class embedding (with one extra "null" class for the
unconditional branch of classifier-free guidance, Ho & Salimans 2022) is added to the time
embedding. The last convolution of every residual branch and of the output is zero-initialised,
so the network starts near the identity on its residual paths and predicts 0.

With L levels the image is halved L - 1 times, so its size must be divisible by 2 ** (L - 1)
(`gen_diffusion.specs.size_problem`; the spec turns it into an error naming data.image_size).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from gen_diffusion.specs import size_problem


def groups(channels: int) -> int:
    """GroupNorm's groups: 32 as in the paper where the width allows, else the largest divisor
    of ``channels`` that is at most 32 (so narrow CPU-sized networks build too)."""
    return max(g for g in range(1, min(32, channels) + 1) if channels % g == 0)


def zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """The Transformer's sinusoidal position embedding of (possibly fractional) timesteps
    (Vaswani et al. 2017, section 3.5; Ho et al. 2020, appendix B): (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


class ResBlock(nn.Module):
    """GroupNorm, SiLU, 3x3 conv, + projected time embedding, GroupNorm, SiLU, dropout, 3x3 conv
    (zero-initialised), plus a 1x1 shortcut where the width changes."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float):
        super().__init__()
        self.in_layers = nn.Sequential(nn.GroupNorm(groups(cin), cin), nn.SiLU(),
                                       nn.Conv2d(cin, cout, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, cout))
        self.out_layers = nn.Sequential(nn.GroupNorm(groups(cout), cout), nn.SiLU(),
                                        nn.Dropout(dropout),
                                        zero(nn.Conv2d(cout, cout, 3, padding=1)))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x) + self.emb(emb)[:, :, None, None]
        return self.skip(x) + self.out_layers(h)


class Attention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, as a residual branch."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class Level(nn.Module):
    """The residual blocks (each followed by attention where asked) of one resolution."""

    def __init__(self, widths: list[tuple[int, int]], emb_dim: int, dropout: float,
                 attention: bool):
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(a, b, emb_dim, dropout) for a, b in widths)
        self.attn = nn.ModuleList(
            Attention(b) if attention else nn.Identity() for _, b in widths)


class UNet(nn.Module):
    """Predicts a tensor of the image's shape (noise or velocity) from x_t, a timestep and,
    for a conditional network, class labels (index ``num_classes`` = the null class)."""

    def __init__(self, channels: int, image_size: int, width: int = 32,
                 mults: tuple[int, ...] = (1, 2, 2), res_blocks: int = 1,
                 attention_resolutions: tuple[int, ...] = (8,), dropout: float = 0.0,
                 num_classes: int | None = None):
        super().__init__()
        problem = size_problem(image_size, len(mults))
        if problem:
            raise ValueError(problem)
        self.width, self.num_classes = width, num_classes
        emb_dim = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(),
                                      nn.Linear(emb_dim, emb_dim))
        # One extra row: the null class of classifier-free guidance's unconditional branch.
        self.label_emb = None if num_classes is None else nn.Embedding(num_classes + 1, emb_dim)
        self.conv_in = nn.Conv2d(channels, width, 3, padding=1)
        self.down, self.downsample, skips = nn.ModuleList(), nn.ModuleList(), [width]
        cin, size = width, image_size
        for i, mult in enumerate(mults):
            cout = width * mult
            widths = [(cin if j == 0 else cout, cout) for j in range(res_blocks)]
            self.down.append(Level(widths, emb_dim, dropout, size in attention_resolutions))
            skips += [cout] * res_blocks
            cin = cout
            last = i == len(mults) - 1
            self.downsample.append(
                nn.Identity() if last else nn.Conv2d(cout, cout, 3, stride=2, padding=1))
            if not last:
                skips.append(cout)
                size //= 2
        self.mid = nn.ModuleList([ResBlock(cin, cin, emb_dim, dropout), Attention(cin),
                                  ResBlock(cin, cin, emb_dim, dropout)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, mult in reversed(list(enumerate(mults))):
            cout = width * mult
            widths = []
            for _ in range(res_blocks + 1):
                widths.append((cin + skips.pop(), cout))
                cin = cout
            self.up.append(Level(widths, emb_dim, dropout, size in attention_resolutions))
            self.upsample.append(nn.Identity() if i == 0 else nn.Conv2d(cout, cout, 3, padding=1))
            if i:
                size *= 2
        self.out = nn.Sequential(nn.GroupNorm(groups(cin), cin), nn.SiLU(),
                                 zero(nn.Conv2d(cin, channels, 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, C, H, W), t (N,) timesteps (floats allowed), labels (N,) or None."""
        emb = self.time_mlp(timestep_embedding(t, self.width).to(x.dtype))
        if self.label_emb is not None:
            if labels is None:
                labels = torch.full_like(t, self.num_classes, dtype=torch.long)
            emb = emb + self.label_emb(labels)
        h = self.conv_in(x)
        hs = [h]
        for level, down in zip(self.down, self.downsample, strict=True):
            for block, attn in zip(level.blocks, level.attn, strict=True):
                h = attn(block(h, emb))
                hs.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, emb)), emb)
        for level, up in zip(self.up, self.upsample, strict=True):
            for block, attn in zip(level.blocks, level.attn, strict=True):
                h = attn(block(torch.cat([h, hs.pop()], 1), emb))
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)
