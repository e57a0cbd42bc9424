"""Sampling speed of the autoregressive models: the naive sampler against the cached one, on CPU.

The naive sampler runs the whole network once per sub-pixel (H * W * C passes per batch); the
cached samplers of gen-autoregressive evaluate each layer at the one position being sampled
(pixelcnn, gated-pixelcnn; Ramachandran et al. 2017), carry the recurrent states row by row
(row-lstm), or run the diagonal recurrence in image coordinates (diagonal-bilstm). Both are
timed in this process, one after the other, on the same model (default spec, random weights:
speed does not depend on the weights) with the same seed, and samples/s and their ratio are
printed, with whether the two gave the same images (in float32 the two paths round
differently, so a draw within ~1e-7 of a probability boundary may differ; the plugin's tests
check equality in float64).

``--naive-rows R`` times the naive sampler on the first R rows only and scales the time by
size / R: every naive step is one full forward pass whatever the position, so its cost per
row is constant. The fast sampler always draws whole images.

Target: fast / naive >= 10 for pixelcnn and gated-pixelcnn (28x28, batch 16).

    python bench/sampling.py [--models pixelcnn gated-pixelcnn row-lstm diagonal-bilstm]
        [--size 28] [--batch 16] [--channels 1] [--levels 2] [--threads 1] [--naive-rows R]
"""

from __future__ import annotations

import argparse
import time

import torch

import gen
from gen import specs
from gen.plugins import discover
from gen_autoregressive.base import Stepper  # the naive sampler's state

MODELS = ("pixelcnn", "gated-pixelcnn", "row-lstm", "diagonal-bilstm")
TARGETS = {"pixelcnn": 10.0, "gated-pixelcnn": 10.0}


def build(name: str, size: int, channels: int, binary: bool):
    info = discover().registry.get(name)
    spec = specs.validate(info.spec_class(), {}).model
    data = gen.DataInfo(name="bench", channels=channels, image_size=size, num_classes=10,
                        num_images=1, binary=binary)
    torch.manual_seed(0)
    model = info.model_class()(spec, data)
    model.train(False)
    return model


@torch.no_grad()
def timed(model, sampler: str, n: int, seed: int, rows: int | None):
    """Seconds to set up ``sampler`` ("fast" or "naive") and draw ``rows`` rows (None: all)
    of ``n`` images, and the images."""
    t0 = time.perf_counter()
    stepper = model.fast_stepper(n, None) if sampler == "fast" else Stepper(model, n, None)
    images = model.sample_with(stepper, n, torch.Generator().manual_seed(seed), rows)
    return time.perf_counter() - t0, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--channels", type=int, default=1, choices=(1, 3))
    parser.add_argument("--levels", type=int, default=2, choices=(2, 256),
                        help="2: binarised data (Bernoulli outputs), 256: 8-bit (softmax)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-rows", type=int, default=None,
                        help="time the naive sampler on this many rows and scale up")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = args.naive_rows if args.naive_rows and args.naive_rows < args.size else None

    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.size}x{args.size}x"
          f"{args.channels}, {args.levels} levels, batch {args.batch}"
          + (f", naive timed on {rows} rows and scaled" if rows else ""))
    header = (f"{'model':16} {'naive s':>9} {'naive/s':>9} {'fast s':>8} {'fast/s':>8} "
              f"{'speed-up':>9} {'target':>7} {'same images':>12}")
    print(header)
    print("-" * len(header))
    missed = []
    for name in args.models:
        model = build(name, args.size, args.channels, args.levels == 2)
        n = args.batch
        timed(model, "fast", n, args.seed, 1)  # warm-up
        fast_s, fast_images = timed(model, "fast", n, args.seed, None)
        naive_s, naive_images = timed(model, "naive", n, args.seed, rows)
        if rows:
            naive_s *= args.size / rows
            same = torch.equal(naive_images[:, :, :rows], fast_images[:, :, :rows])
            same_text = f"{'yes' if same else 'no'} ({rows} rows)"
        else:
            same_text = "yes" if torch.equal(naive_images, fast_images) else "no"
        ratio = naive_s / fast_s
        target = TARGETS.get(name)
        if target is not None and ratio < target:
            missed.append(name)
        print(f"{name:16} {naive_s:9.2f} {n / naive_s:9.2f} {fast_s:8.2f} {n / fast_s:8.2f} "
              f"{ratio:8.1f}x {f'{target:.0f}x' if target else '-':>7} {same_text:>12}")
    if missed:
        print(f"below target: {', '.join(missed)}")


if __name__ == "__main__":
    main()
