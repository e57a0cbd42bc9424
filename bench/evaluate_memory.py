"""Peak memory of `gen evaluate --metrics fid` as -n grows: it must not grow with n.

Trains a short `gan` run (bundled MNIST, CPU), then scores it with
`gen evaluate RUN --metrics fid -n N` for each N, in a subprocess whose peak RSS comes from
os.wait4 on that child. FID keeps running sums of the generated features (mean and outer
products), and samples are drawn and featurised a batch at a time, so the peak should be the
same for every N.

Target: peak RSS < 2 GB at N = 200,000, and peak(largest N) / peak(smallest N) < 1.1.

    python bench/evaluate_memory.py [--n 20000,200000] [--steps 20]

About a minute per 100,000 images on 2 CPU cores (the lenet extractor is trained once, a few
seconds, into a temporary GEN_CACHE).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RSS_TARGET_BYTES = 2e9
GROWTH_TARGET = 1.1


def child_peak(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in bytes, stdout) of ``command`` in a child process, waited for
    with os.wait4 so the peak is the child's own."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_maxrss * 1024, out  # ru_maxrss is in KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="20000,200000", help="comma-separated -n values")
    ap.add_argument("--steps", type=int, default=20, help="training steps of the gan run")
    args = ap.parse_args()
    sizes = [int(v) for v in args.n.split(",")]
    gen = [sys.executable, "-m", "gen"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GEN_CACHE": str(Path(tmp) / "cache")}
        out = Path(tmp) / "run"
        child_peak([*gen, "train", "gan", "--out", str(out), "-q", "--set", "train.device=cpu",
                    "--set", f"train.steps={args.steps}"], env)
        child_peak([*gen, "evaluate", str(out), "--metrics", "fid", "-n", "100",
                    "--device", "cpu"], env)  # trains and caches the extractor once
        rows = []
        for n in sizes:
            wall, peak, _ = child_peak([*gen, "evaluate", str(out), "--metrics", "fid", "-n",
                                        str(n), "--device", "cpu", "--json"], env)
            rows.append((n, wall, peak))
            print(f"gen evaluate --metrics fid -n {n:>9,}: wall {wall:7.1f} s, "
                  f"peak RSS {peak / 2**20:7.0f} MiB", flush=True)
    largest = rows[-1][2]
    growth = largest / rows[0][2]
    print(f"\npeak RSS at -n {rows[-1][0]:,}: {largest / 1e9:.2f} GB (target < "
          f"{RSS_TARGET_BYTES / 1e9:.0f} GB) {'MET' if largest < RSS_TARGET_BYTES else 'MISSED'}")
    print(f"peak RSS -n {rows[-1][0]:,} / -n {rows[0][0]:,}: {growth:.3f} (target < "
          f"{GROWTH_TARGET}) {'MET' if growth < GROWTH_TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
