"""Precision and recall (Kynkaanniemi et al. 2019): gen's own code against torch-fidelity's
``prc`` on the same features, for equality and time.

gen keeps its own implementation only while it gives the same numbers and is not slower; this
prints both, and their wall times (the best of ``--repeats``, taking turns), on random float32
features of ``--n`` points by ``--dim`` (default 5,000 x 64) per set, on the CPU.

    python bench/prc.py [--n 5000] [--dim 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch_fidelity.metric_prc import prc_features_to_metric

from gen.evaluation.metrics.precision_recall import precision_recall


def best_times(fns: dict, repeats: int) -> dict[str, tuple[float, object]]:
    """The best wall time and the result of each function, taking turns (so a change in the
    machine's load falls on both)."""
    best: dict[str, tuple[float, object]] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - start
            best[name] = (min(seconds, best.get(name, (seconds,))[0]), result)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    real = torch.randn(args.n, args.dim, generator=g)
    fake = torch.randn(args.n, args.dim, generator=g) * 1.1 + 0.1
    times = best_times({
        "gen": lambda: precision_recall(real, fake),
        "torch_fidelity": lambda: prc_features_to_metric(fake, real, verbose=False),
    }, args.repeats)
    (gen_s, ours), (tf_s, theirs) = times["gen"], times["torch_fidelity"]
    print(json.dumps({
        "n": args.n, "dim": args.dim, "threads": torch.get_num_threads(),
        "gen": {"precision": ours[0], "recall": ours[1], "seconds": round(gen_s, 3)},
        "torch_fidelity": {"precision": theirs["precision"], "recall": theirs["recall"],
                           "seconds": round(tf_s, 3)},
        "equal": abs(ours[0] - theirs["precision"]) < 1e-6
        and abs(ours[1] - theirs["recall"]) < 1e-6,
    }))


if __name__ == "__main__":
    main()
