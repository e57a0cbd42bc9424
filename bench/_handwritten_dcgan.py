"""The baseline of bench/throughput.py: a minimal DCGAN training loop written by hand.

Same networks as gen's `dcgan` at 32x32x1 (z = 100, 64 features; Radford et al. 2015), same
optimizer (Adam 2e-4, betas 0.5/0.999), same batch size, the same alternating step (D on real and
fake.detach(), then G on D(fake) with the non-saturating loss, BCE with logits), on random uint8
images held in memory and batched by random index. It logs exactly as gen's loop does: every
``--log-every`` steps one JSON line with the losses, ``images_per_s`` over the interval since the
previous line and ``elapsed_s`` since the first step, so both runs are read by the same code.

Before training it checks that its parameter counts equal those of gen's DCGAN.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

LATENT, FEATURES, CHANNELS, SIZE, NUM_IMAGES = 100, 64, 1, 32, 9000


def generator() -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(LATENT, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
        nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
        nn.ConvTranspose2d(64, CHANNELS, 4, 2, 1), nn.Tanh(),
    )


def discriminator() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(CHANNELS, 64, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
        nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2, True),
        nn.Conv2d(256, 1, 4, 1, 0),
    )


def init_weights(m: nn.Module) -> None:
    """Weights from N(0, 0.02) (batch-norm scales from N(1, 0.02)), biases zero."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def check_against_gen(g: nn.Module, d: nn.Module) -> dict[str, int]:
    """Parameter counts (and shapes) must equal gen's DCGAN, or the comparison is meaningless."""
    import gen
    from gen_gan.dcgan import DCGAN
    from gen_gan.specs import DCGANSpec

    info = gen.DataInfo(
        name="x", channels=CHANNELS, image_size=SIZE, num_classes=10, num_images=NUM_IMAGES
    )
    ref = DCGAN(DCGANSpec(), info)
    counts = {
        "g_params": count(g), "d_params": count(d),
        "gen_g_params": count(ref.generator), "gen_d_params": count(ref.discriminator),
    }
    shapes = [[p.shape for p in m.parameters()] for m in (g, d)]
    ref_shapes = [[p.shape for p in m.parameters()] for m in (ref.generator, ref.discriminator)]
    if counts["g_params"] != counts["gen_g_params"] or counts["d_params"] != counts[
        "gen_d_params"
    ] or shapes != ref_shapes:
        sys.exit(f"parameter mismatch with gen's DCGAN: {counts}")
    return counts


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--metrics", required=True, help="JSON-lines file to write, like gen's")
    ap.add_argument("--no-check", action="store_true", help="skip the parameter-count check")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    g, d = generator(), discriminator()
    g.apply(init_weights)
    d.apply(init_weights)
    counts = {} if args.no_check else check_against_gen(g, d)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = torch.randint(0, 256, (NUM_IMAGES, CHANNELS, SIZE, SIZE), dtype=torch.uint8)
    bs = args.batch_size

    with open(args.metrics, "w") as log:
        t0 = tick = time.perf_counter()
        drawn = 0
        for step in range(1, args.steps + 1):
            real = data[torch.randint(0, NUM_IMAGES, (bs,))].float().div_(127.5).sub_(1.0)
            drawn += bs
            fake = g(torch.randn(bs, LATENT, 1, 1))

            real_logits, fake_logits = d(real).flatten(), d(fake.detach()).flatten()
            d_loss = bce(real_logits, 1.0) + bce(fake_logits, 0.0)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            g_loss = bce(d(fake).flatten(), 1.0)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()

            if step % args.log_every == 0 or step == args.steps:
                now = time.perf_counter()
                record = {
                    "step": step, "d_loss": float(d_loss), "g_loss": float(g_loss),
                    "images_per_s": drawn / (now - tick), "elapsed_s": now - t0,
                }
                log.write(json.dumps(record) + "\n")
                tick, drawn = now, 0

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"threads": torch.get_num_threads(), "peak_rss_kib": peak_kib, **counts}))


if __name__ == "__main__":
    main()
