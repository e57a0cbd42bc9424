"""Training throughput and memory of `gen train dcgan` on an image folder, with the decoded
images in memory (``data.storage=memory``) or streamed from the decoded cache
(``data.storage=stream``), on CPU.

Writes a folder of ``--images`` 64x64 RGB PNGs (smooth random colour fields: three octaves of
low-resolution noise upsampled bicubically plus a little pixel noise, about 7 kB each, a fixed
seed per image, written by one process per CPU), then trains dcgan at 64x64 on it, each run a
`gen train --quiet` subprocess with its own run folder, and GEN_CACHE a temporary folder:

  (a) memory   data.storage=memory: decoded into one tensor, then indexed;
  (b) stream   data.storage=stream with an empty cache: the first pass decodes every image
               into the cache (its "data: decoded N images in X s" line gives the decode
               rate), then trains reading from it;
  (c) cached   data.storage=stream again: the cache is found, nothing is decoded.

(a) and (c) run ``--repeats`` times each in ABBA order (a, b, c, c, a, ...), so a drift of the
background load falls on both alike; ``--together --threads 1`` runs each (a)/(c) pair at the
same time instead, so both see the same background. A run's images/s is the median of its
metrics.jsonl lines' images_per_s, the first line (warm-up) left out; a mode's is the median
over its runs. A run's wall time is the whole command: start-up, decoding (memory mode
decodes too, and prints its rate), the model, the steps, the final checkpoint and sample grid.

Then the folder grows ``--grow`` times (default 4x): its first ``--images`` files are hard links
to the first folder's (decoding them costs the same; the cache holds decoded pixels either
way), the rest are new PNGs. A short stream run builds its cache (its decode rate is printed
too), and (c) runs on it with the same steps as before.

Peak RSS is the `gen train` process's, from os.wait4 on it (so no other run counts). Linux
reports there the largest peak of that process and of the children it reaped, never a sum:
its DataLoader workers (``data.workers``, which decode the first pass and read the cache) are
forked from it and start with its pages, so they raise the figure only if one alone outgrew
it; in practice it is the main process's own peak.

Targets: (c) images/s >= 0.9 x (a) images/s, and peak RSS of (c) on the grown folder
<= 1.15 x that of (c) on the first one (in memory mode the peak grows with the decoded size:
(a)'s peak is printed for contrast).

    python bench/data.py [--images 20000] [--grow 4] [--steps 40] [--batch-size 32]
        [--log-every 4] [--workers 2] [--repeats 2] [--threads N] [--together] [--quick]

dcgan at 64x64 trains at 10-60 images/s on 2 CPU cores (depending on what else runs), so a
training command takes half a minute to three minutes; the defaults (seven of them, and
writing 80,000 PNGs) take 10-20 minutes, and removing the temporary folder a minute or more.
--quick (2,000 images, 6 steps logged every 2, one repeat) takes a few minutes, as a smoke
run. On a machine whose other work comes and goes, back-to-back runs can see loads that differ
two-fold; --together --threads 1 then gives the steadier ratio (its absolute images/s is not
comparable with the default's).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _metrics import checked_records, child_env  # bench/ is the script's folder: on sys.path

RATIO_TARGET = 0.9
GROWTH_TARGET = 1.15
SIZE = 64
SEED = 0
DECODED = re.compile(r"data: decoded ([\d,]+) images in ([\d.]+) s \(([\d,]+) images/s\)")
CHUNK = 250  # images a generating process writes per task


# --- the image folder ------------------------------------------------------------------------

def make_image(index: int, seed: int = SEED) -> np.ndarray:
    """Image ``index`` (uint8, SIZE x SIZE x 3): the same for a given (seed, index) wherever and
    in whatever order it is made."""
    from PIL import Image

    rng = np.random.default_rng([seed, index])
    acc = np.zeros((SIZE, SIZE, 3), np.float32)
    for side, amplitude in ((4, 1.0), (8, 0.5), (16, 0.25)):
        small = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        up = Image.fromarray(small).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
        acc += amplitude * np.asarray(up, dtype=np.float32)
    acc = acc / 1.75 + rng.normal(0.0, 3.0, acc.shape).astype(np.float32)
    return np.clip(acc, 0, 255).astype(np.uint8)


def _write_chunk(task: tuple[str, int, int]) -> int:
    from PIL import Image

    folder, start, stop = task
    for i in range(start, stop):
        Image.fromarray(make_image(i)).save(Path(folder) / f"{i:06d}.png")
    return stop - start


def make_folder(folder: Path, start: int, stop: int) -> float:
    """Write images ``start .. stop - 1`` into ``folder``; the seconds it took."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tasks = [(str(folder), i, min(i + CHUNK, stop)) for i in range(start, stop, CHUNK)]
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        done = sum(pool.imap_unordered(_write_chunk, tasks))
    assert done == stop - start
    return time.perf_counter() - t0


def link_folder(src: Path, dst: Path, n: int) -> None:
    """Hard links in ``dst`` to ``src``'s first ``n`` images (same names, another folder)."""
    dst.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        os.link(src / f"{i:06d}.png", dst / f"{i:06d}.png")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


# --- one gen train run ------------------------------------------------------------------------

@dataclass
class Run:
    label: str  # (a), (b) or (c), and which repeat
    images: int  # in the folder
    images_per_s: float  # median of the log lines' images_per_s, the first left out
    wall_s: float  # the whole gen train command
    peak_rss_bytes: int  # of the gen train process (or a worker of it that peaked higher)
    decoded: tuple[int, float, float] | None  # images, seconds, images/s of the decoding pass


def read_metrics(metrics: Path, steps: int, log_every: int) -> float:
    """The median images/s of the log lines after the first in a run's metrics.jsonl, after
    checking it has every line and finite losses."""
    records = checked_records(metrics, steps, log_every)
    return statistics.median(r["images_per_s"] for r in records[1:])


class Child:
    """One `gen train dcgan` subprocess on ``folder``, whose wall time and peak RSS are its own
    (os.wait4 on its pid: neither this process nor another run counts; its workers only as a
    larger single peak, see the module's notes). ``expect_decode`` says whether its stderr must
    (True) or must not (False) show the decoding pass into the cache."""

    def __init__(self, args, label: str, storage: str, folder: Path, images: int, cache: Path,
                 out: Path, steps: int, env: dict[str, str], expect_decode: bool):
        self.label, self.storage, self.images = label, storage, images
        self.out, self.steps, self.log_every = out, steps, args.log_every
        self.expect_decode = expect_decode
        big = str(10 * steps)  # no sample grid or checkpoint inside the timed steps
        self.cmd = [
            str(Path(sys.executable).parent / "gen"), "train", "dcgan", "--out", str(out),
            "--quiet",
            "--set", "data.dataset=image-folder",
            "--set", f"data.root={folder}",
            "--set", f"data.image_size={SIZE}",
            "--set", f"data.storage={storage}",
            "--set", f"data.workers={args.workers}",
            "--set", "train.device=cpu",
            "--set", f"train.steps={steps}",
            "--set", f"train.batch_size={args.batch_size}",
            "--set", f"train.log_every={args.log_every}",
            "--set", f"train.sample_every={big}",
            "--set", f"train.checkpoint_every={big}",
        ]
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in reaped()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.err,
                                     env={**env, "GEN_CACHE": str(cache)})

    def wait(self) -> Run:
        _, status, usage = os.wait4(self.proc.pid, 0)
        return self.reaped(status, usage)

    def reaped(self, status: int, usage) -> Run:
        """The run, given what os.wait4 said when this child ended (just now); exits with its
        stderr when it failed or did not do what it should."""
        wall = time.perf_counter() - self.t0
        self.proc.returncode = code = os.waitstatus_to_exitcode(status)
        self.err.seek(0)
        stderr = self.err.read()
        self.err.close()
        label = self.label
        if code != 0:
            sys.exit(f"{label} failed (exit {code}):\n{' '.join(self.cmd)}\n{stderr}")
        if f"data.storage={self.storage}" not in stderr:
            sys.exit(f"{label}: no 'data.storage={self.storage}' line on stderr:\n{stderr}")
        found = DECODED.search(stderr)
        if self.expect_decode != (found is not None):
            sys.exit(f"{label}: the decoded cache was {'not ' if self.expect_decode else ''}"
                     f"built, unlike what this run expects:\n{stderr}")
        decoded = None
        if found:
            n = int(found[1].replace(",", ""))
            if n != self.images:
                sys.exit(f"{label}: decoded {n:,} images, the folder has {self.images:,}")
            decoded = (n, float(found[2]), n / max(float(found[2]), 1e-9))
        rate = read_metrics(self.out / "metrics.jsonl", self.steps, self.log_every)
        rss = usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux
        run = Run(label, self.images, rate, wall, rss, decoded)
        extra = f", decoded at {decoded[2]:,.0f} images/s" if decoded else ""
        print(f"  {label:<24} {rate:6.1f} images/s, wall {wall:6.1f} s, peak RSS "
              f"{rss / 1e6:6.0f} MB{extra}", flush=True)
        return run


def together(children: list[Child]) -> list[Run]:
    """Wait for children started together, reaping whichever ends first (so each wall time
    and peak RSS is its own); their runs in the order given."""
    waiting = {c.proc.pid: c for c in children}
    runs = {}
    while waiting:
        pid, status, usage = os.wait4(-1, 0)
        if pid in waiting:
            runs[pid] = waiting.pop(pid).reaped(status, usage)
    return [runs[c.proc.pid] for c in children]



def cache_bytes(cache: Path) -> int:
    return sum(p.stat().st_size for p in cache.rglob("*.u8"))


# --- the benchmark ----------------------------------------------------------------------------

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=20_000, help="images in the first folder")
    p.add_argument("--grow", type=int, default=4, help="the second folder is this many times "
                   "bigger (for the peak RSS of (c))")
    p.add_argument("--steps", type=int, default=40, help="training steps of every timed run")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--log-every", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="data.workers (decoding and reading)")
    p.add_argument("--repeats", type=int, default=2, help="runs of (a) and of (c) each")
    p.add_argument("--threads", type=int, default=None,
                   help="OMP/MKL threads of each gen process (default: torch's own choice)")
    p.add_argument("--together", action="store_true",
                   help="run each (a)/(c) pair at the same time (use with --threads 1)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 2,000 images, 6 steps logged every 2, one repeat")
    args = p.parse_args()
    if args.quick:
        args.images, args.steps, args.log_every, args.repeats = 2_000, 6, 2, 1
    if args.steps < 2 * args.log_every:
        p.error("--steps must be at least twice --log-every (the first log line is warm-up)")
    if args.grow < 2 or args.repeats < 1:
        p.error("--grow must be at least 2, --repeats at least 1")
    env = child_env(args.threads)
    big_n = args.images * args.grow
    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="gen-bench-data-") as tmp:
        work = Path(tmp)
        small, big = work / f"images-{args.images}", work / f"images-{big_n}"
        # One GEN_CACHE per folder: two image-folder data sets at one image size share a cache
        # key prefix, so building the second one's cache would delete the first one's.
        cache_small, cache_big = work / "cache-small", work / "cache-big"
        runs: list[Run] = []
        numbers = itertools.count()

        def child(label: str, storage: str, expect_decode: bool, *, folder: Path = small,
                  n: int = args.images, cache: Path = cache_small,
                  steps: int = args.steps) -> Child:
            out = work / f"run-{next(numbers)}"
            return Child(args, label, storage, folder, n, cache, out, steps, env, expect_decode)

        print(f"writing {args.images:,} {SIZE}x{SIZE} PNGs with {os.cpu_count()} processes ...",
              flush=True)
        gen_small = make_folder(small, 0, args.images)
        print(f"  {gen_small:.1f} s ({args.images / gen_small:,.0f} images/s), "
              f"{folder_bytes(small) / 1e6:,.0f} MB", flush=True)

        print(f"\ntraining dcgan {SIZE}x{SIZE}, {args.steps} steps of {args.batch_size}, "
              f"data.workers={args.workers}, on {args.images:,} images"
              f"{', (a) and (c) together' if args.together else ''}:", flush=True)
        b = None
        for i in range(args.repeats):
            if args.together:
                if b is None:  # the first pass, alone, builds the cache that (c) reads
                    runs.append(b := child("(b) stream, first pass", "stream", True).wait())
                runs += together([child(f"(a) memory #{i + 1}", "memory", False),
                                  child(f"(c) stream, cached #{i + 1}", "stream", False)])
                continue
            # ABBA: a, (b,) c, c, a, a, c, ...
            for kind in ("a", "c") if i % 2 == 0 else ("c", "a"):
                if kind == "a":
                    runs.append(child(f"(a) memory #{i + 1}", "memory", False).wait())
                    continue
                if b is None:  # the first pass builds the cache that (c) reads
                    runs.append(b := child("(b) stream, first pass", "stream", True).wait())
                runs.append(child(f"(c) stream, cached #{i + 1}", "stream", False).wait())
        decoded_small = cache_bytes(cache_small)

        extra = big_n - args.images
        print(f"\ngrowing to {big_n:,} images: {args.images:,} hard links to the first folder's "
              f"files, {extra:,} new PNGs ...", flush=True)
        link_folder(small, big, args.images)
        gen_big = make_folder(big, args.images, big_n)
        print(f"  {gen_big:.1f} s ({extra / gen_big:,.0f} images/s), "
              f"{folder_bytes(big) / 1e6:,.0f} MB", flush=True)
        print(f"training on {big_n:,} images:", flush=True)
        big_kw = {"folder": big, "n": big_n, "cache": cache_big}
        b_big = child("(b) stream, first pass", "stream", True, steps=2 * args.log_every,
                      **big_kw).wait()
        c_big = child("(c) stream, cached", "stream", False, **big_kw).wait()
        runs += [b_big, c_big]
        decoded_big = cache_bytes(cache_big)
    total = time.perf_counter() - t_start
    report(args, runs, b, b_big, c_big, (gen_small, gen_big), (decoded_small, decoded_big),
           (load0, os.getloadavg()[0]), total)


def report(args, runs: list[Run], b: Run, b_big: Run, c_big: Run, gen_s: tuple[float, float],
           decoded_bytes: tuple[int, int], load: tuple[float, float], total: float) -> None:
    big_n = args.images * args.grow
    a_runs = [r for r in runs if r.label.startswith("(a)")]
    c_runs = [r for r in runs if r.label.startswith("(c)") and r.images == args.images]
    a_rate = statistics.median(r.images_per_s for r in a_runs)
    c_rate = statistics.median(r.images_per_s for r in c_runs)
    ratio = c_rate / a_rate
    rss_c = statistics.median(r.peak_rss_bytes for r in c_runs)
    growth = c_big.peak_rss_bytes / rss_c

    threads = args.threads if args.threads is not None else "default"
    print(f"\n{'together' if args.together else 'alternating'}; 1-min load average "
          f"{load[0]:.2f} before, {load[1]:.2f} after, on {os.cpu_count()} CPUs; torch threads "
          f"{threads}; total {total / 60:.1f} min")
    print(f"img/s: median of the log lines' rates after the first ({args.steps} steps of "
          f"{args.batch_size}, logged every {args.log_every}; the {big_n:,}-image first pass "
          f"{2 * args.log_every} steps)\npeak RSS: the gen train process (its DataLoader workers "
          "only if one alone peaked higher; never summed)\n")
    head = ("mode", "images", "img/s", "vs memory", "peak RSS MB", "wall s")
    print(f"{head[0]:<24}{head[1]:>8}" + "".join(f"{h:>13}" for h in head[2:]))
    for r in runs:
        print(f"{r.label:<24}{r.images:>8,}{r.images_per_s:>13.1f}"
              f"{r.images_per_s / a_rate:>13.3f}{r.peak_rss_bytes / 1e6:>13.0f}"
              f"{r.wall_s:>13.1f}")

    print(f"\nwriting the PNGs: {args.images:,} in {gen_s[0]:.1f} s, then {big_n - args.images:,} "
          f"more in {gen_s[1]:.1f} s ({os.cpu_count()} processes)")
    for run, size in zip((b, b_big), decoded_bytes, strict=True):
        n, seconds, rate = run.decoded
        print(f"first pass: decoded {n:,} images in {seconds:.1f} s ({rate:,.0f} images/s, "
              f"data.workers={args.workers}); cache {size / 1e6:,.0f} MB")
    print(f"\nimages/s (c) stream, cached / (a) memory (medians): {c_rate:.1f} / {a_rate:.1f} = "
          f"{ratio:.3f}  (target >= {RATIO_TARGET}) {'PASS' if ratio >= RATIO_TARGET else 'FAIL'}")
    if len(a_runs) > 1:
        pairs = [c.images_per_s / a.images_per_s for a, c in zip(a_runs, c_runs, strict=True)]
        print(f"  [repeat by repeat: {', '.join(f'{x:.3f}' for x in pairs)}]")
    print(f"peak RSS of (c): {rss_c / 1e6:,.0f} MB at {args.images:,} images (median), "
          f"{c_big.peak_rss_bytes / 1e6:,.0f} MB at {big_n:,}: ratio {growth:.3f}  (target <= "
          f"{GROWTH_TARGET}) {'PASS' if growth <= GROWTH_TARGET else 'FAIL'}")
    a_rss = max(r.peak_rss_bytes for r in a_runs)
    print(f"for contrast, (a) memory peaks at {a_rss / 1e6:,.0f} MB at {args.images:,} images; "
          f"its decoded set alone would grow by {(decoded_bytes[1] - decoded_bytes[0]) / 1e6:,.0f}"
          f" MB at {big_n:,}")


if __name__ == "__main__":
    main()
