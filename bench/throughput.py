"""Training throughput of `gen train dcgan` against a hand-written PyTorch loop, on CPU.

Measures, in one invocation, images/s of a real `gen train dcgan` subprocess and of
bench/_handwritten_dcgan.py (the same networks, batch size 64, 32x32 images, Adam 2e-4 with betas
0.5/0.999), run alternately ``--repeats`` times each with the same thread settings. Both log
every ``--log-every`` steps; the first interval is warm-up and skipped, the rest give
images/s = images drawn / time taken. Start-up, data loading and the final checkpoint and sample
grid lie outside the logged intervals (the child's wall time is printed beside them).

Targets: median images/s of gen / median of the hand-written loop >= 0.95, and the peak RSS of
the gen training process <= 1.5 GB. Each child's peak RSS comes from os.wait4 on that child.

    python bench/throughput.py [--steps 100] [--log-every 10] [--repeats 2] [--threads N]

The defaults take about two minutes on 2 idle CPU cores (about 300 images/s each way). On a
machine that other work keeps busy, alternating runs see different loads; ``--together
--threads 1`` runs each gen/hand-written pair at the same time instead, one thread each, so
both see the same background (an absolute figure that way is not comparable with the default).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from _metrics import checked_records, child_env  # bench/ is the script's folder: on sys.path

HERE = Path(__file__).resolve().parent
HANDWRITTEN = HERE / "_handwritten_dcgan.py"
RATIO_TARGET = 0.95
RSS_TARGET_BYTES = 1.5e9  # 1.5 GB
KINDS = ("gen", "hand-written")


@dataclass
class Run:
    kind: str  # one of KINDS
    images_per_s: float  # images / seconds over the logged intervals after the first
    interval_median: float  # the median of those intervals' own images/s (robust to bursts)
    wall_s: float  # the whole child process
    untimed_s: float  # wall_s less the logged span: start-up, data, model, final writes
    peak_rss_bytes: int
    stdout: str


class Child:
    """A subprocess whose own wall time and peak RSS are measured (os.wait4 on its pid, so
    neither this process nor any other child counts)."""

    def __init__(self, kind: str, cmd: list[str], env: dict[str, str]):
        self.kind, self.cmd = kind, cmd
        self.out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in wait()
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=self.err, env=env)

    def wait(self) -> tuple[float, int, str]:
        """Wall seconds, peak RSS in bytes, stdout; exits with the child's stderr on failure."""
        _, status, usage = os.wait4(self.proc.pid, 0)
        return self.reaped(status, usage)

    def reaped(self, status: int, usage) -> tuple[float, int, str]:
        """What `wait` returns, given what os.wait4 said when this child ended (just now)."""
        wall = time.perf_counter() - self.t0
        self.proc.returncode = code = os.waitstatus_to_exitcode(status)
        texts = []
        for f in (self.out, self.err):
            f.seek(0)
            texts.append(f.read())
            f.close()
        if code != 0:
            sys.exit(f"{self.kind} run failed (exit {code}):\n{' '.join(self.cmd)}\n{texts[1]}")
        return wall, usage.ru_maxrss * 1024, texts[0]  # ru_maxrss is in KiB on Linux


def read_metrics(metrics: Path, steps: int, log_every: int, batch_size: int) -> dict[str, float]:
    """Throughput over every logged interval but the first (warm-up), from a metrics.jsonl."""
    records = checked_records(metrics, steps, log_every)
    first, last = records[0], records[-1]
    drawn = (last["step"] - first["step"]) * batch_size
    logged = sum(
        r["images_per_s"] * (r["elapsed_s"] - prev["elapsed_s"]) for prev, r in pairwise(records)
    )
    # Sanity: the logged rates must account for every image drawn after the first interval.
    if abs(logged - drawn) > 1e-3 * drawn:
        sys.exit(f"{metrics}: logged rates give {logged:.0f} images, expected {drawn}")
    return {
        "images_per_s": drawn / (last["elapsed_s"] - first["elapsed_s"]),
        "interval_median": statistics.median(r["images_per_s"] for r in records[1:]),
        "elapsed_s": last["elapsed_s"],
    }


def command(kind: str, args, workdir: Path, i: int) -> tuple[list[str], Path]:
    """The command line of run ``i`` of ``kind``, and the metrics file it writes."""
    if kind == "gen":
        out = workdir / f"gen-{i}"
        big = str(10 * args.steps)  # no sample grid or checkpoint inside the timed steps
        cmd = [
            str(Path(sys.executable).parent / "gen"), "train", "dcgan", "--out", str(out),
            "--quiet",
            "--set", "train.device=cpu",
            "--set", f"train.steps={args.steps}",
            "--set", f"train.batch_size={args.batch_size}",
            "--set", f"train.log_every={args.log_every}",
            "--set", f"train.sample_every={big}",
            "--set", f"train.checkpoint_every={big}",
            "--set", "data.image_size=32",
        ]
        return cmd, out / "metrics.jsonl"
    metrics = workdir / f"hand-{i}.jsonl"
    cmd = [
        sys.executable, str(HANDWRITTEN), "--metrics", str(metrics),
        "--steps", str(args.steps), "--log-every", str(args.log_every),
        "--batch-size", str(args.batch_size),
    ]
    return cmd, metrics


def run_pair(args, workdir: Path, i: int, env: dict[str, str]) -> list[Run]:
    """Run ``i`` of each kind: one after the other (ABBA order over the repeats, so a slow
    drift of the load falls on both alike), or both at once with --together."""
    order = KINDS if i % 2 == 0 else KINDS[::-1]
    cmds = {kind: command(kind, args, workdir, i) for kind in order}
    results = {}
    if args.together:
        children = {c.proc.pid: c for c in (Child(k, cmds[k][0], env) for k in order)}
        while children:  # reap whichever ends first, so each wall time is its own
            pid, status, usage = os.wait4(-1, 0)
            child = children.pop(pid)
            results[child.kind] = child.reaped(status, usage)
    else:
        for kind in order:
            results[kind] = Child(kind, cmds[kind][0], env).wait()
    runs = []
    for kind in order:
        wall, rss, stdout = results[kind]
        m = read_metrics(cmds[kind][1], args.steps, args.log_every, args.batch_size)
        run = Run(kind, m["images_per_s"], m["interval_median"], wall, wall - m["elapsed_s"],
                  rss, stdout)
        print(f"  {kind:<12} run {i + 1}: {run.images_per_s:6.1f} images/s, wall "
              f"{run.wall_s:5.1f} s, peak RSS {run.peak_rss_bytes / 1e6:5.0f} MB", flush=True)
        runs.append(run)
    return runs



def report(args, runs: list[Run], torch_rss: int, load: tuple[float, float]) -> None:
    hand = next(r for r in runs if r.kind == "hand-written")
    info = json.loads(hand.stdout.splitlines()[-1])
    print(f"\nparameters: hand-written G {info['g_params']:,} D {info['d_params']:,}; "
          f"gen G {info['gen_g_params']:,} D {info['gen_d_params']:,} (equal)")
    print(f"{'together' if args.together else 'alternating'}, steps {args.steps} per run, "
          f"{args.steps - args.log_every} timed (the first {args.log_every} are warm-up), batch "
          f"{args.batch_size}, torch threads {info['threads']}; 1-min load average "
          f"{load[0]:.2f} before, {load[1]:.2f} after, on {os.cpu_count()} CPUs\n")

    def med(kind: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs if r.kind == kind)

    head = ("", "images/s", "interval med", "wall s", "untimed s", "peak RSS MB")
    print(f"{head[0]:<14}" + "".join(f"{h:>13}" for h in head[1:]))
    for kind in KINDS:
        peak = max(r.peak_rss_bytes for r in runs if r.kind == kind) / 1e6
        cols = [med(kind, a) for a in ("images_per_s", "interval_median", "wall_s", "untimed_s")]
        print(f"{kind:<14}" + "".join(f"{c:>13.1f}" for c in cols) + f"{peak:>13.0f}")
    print(f"{'import torch':<14}" + "".join(f"{'-':>13}" for _ in range(4))
          + f"{torch_rss / 1e6:>13.0f}")
    print("(medians over the runs, peak RSS the largest; images/s = images / time over the timed"
          " steps;\n interval med = median of the per-interval rates; untimed = wall less the"
          " logged span:\n start-up, data, model, final checkpoint and grid)")

    ratio = med("gen", "images_per_s") / med("hand-written", "images_per_s")
    robust = med("gen", "interval_median") / med("hand-written", "interval_median")
    print(f"\nratio gen / hand-written images/s: {ratio:.3f}  (target >= {RATIO_TARGET}) "
          f"{'MET' if ratio >= RATIO_TARGET else 'NOT MET'}   [interval-median ratio "
          f"{robust:.3f}]")
    if (ratio >= RATIO_TARGET) != (robust >= RATIO_TARGET):
        print("  the two ratios disagree: other processes were competing for the CPUs; rerun on"
              " an idle machine, with more --repeats, or with --together --threads 1")
    gen_peak = max(r.peak_rss_bytes for r in runs if r.kind == "gen")
    rss_ok = gen_peak <= RSS_TARGET_BYTES
    print(f"peak RSS of gen train: {gen_peak / 1e6:.0f} MB  (target <= "
          f"{RSS_TARGET_BYTES / 1e6:.0f} MB) {'MET' if rss_ok else 'NOT MET'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100, help="training steps per run")
    ap.add_argument("--log-every", type=int, default=10, help="steps per timed interval")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None,
                    help="OMP/MKL threads for both children (default: torch's own choice)")
    ap.add_argument("--together", action="store_true",
                    help="run each gen/hand-written pair at the same time, not alternately")
    ap.add_argument("--keep", metavar="DIR", help="keep the run directories and metrics here")
    args = ap.parse_args()
    if args.steps < 2 * args.log_every:
        ap.error("--steps must cover at least two --log-every intervals (one is warm-up)")

    env = child_env(args.threads)
    load_before = os.getloadavg()[0]
    if load_before > 0.5 * (os.cpu_count() or 1):
        print(f"warning: the machine is busy (1-min load average {load_before:.2f} on "
              f"{os.cpu_count()} CPUs); the figures will be noisy", flush=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="gen-bench-") as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for i in range(args.repeats):
            runs += run_pair(args, workdir, i, env)
    # For scale: most of a PyTorch process's RSS is the torch import itself.
    _, torch_rss, _ = Child("import torch", [sys.executable, "-c", "import torch"], env).wait()
    report(args, runs, torch_rss, (load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
