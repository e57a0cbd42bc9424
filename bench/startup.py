"""Start-up cost of the CLI: wall time of `gen list-models` against `python -c "import torch"`.

Discovering plugins and listing models must not import torch (DESIGN.md), so `gen list-models`
should take well under the time of a bare torch import. Both run as subprocesses of this
interpreter's environment (``sys.executable`` and the `gen` script beside it), alternately,
``--repeats`` times each; medians and their ratio are printed. The script also checks, in a fresh
interpreter, that running list-models leaves torch out of ``sys.modules``.

Target: median(gen list-models) / median(import torch) <= ``--target`` (default 0.5).

    python bench/startup.py [--repeats 5] [--target 0.5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Runs list-models in-process as the console script would, then reports whether torch got in.
PROBE = """\
import contextlib, io, sys
from gen.cli.main import cli
with contextlib.redirect_stdout(io.StringIO()):
    cli.main(["list-models"], prog_name="gen", standalone_mode=False)
print("TORCH_IMPORTED=" + str("torch" in sys.modules))
"""


def wall_time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr}")
    return elapsed


def torch_imported_by_list_models() -> bool:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("TORCH_IMPORTED=")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"the list-models probe failed (exit {proc.returncode}):\n{proc.stderr}")
    return lines[-1] == "TORCH_IMPORTED=True"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs of each command, alternating")
    ap.add_argument("--target", type=float, default=0.5,
                    help="largest acceptable ratio of the medians, gen / import torch")
    args = ap.parse_args()

    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"warning: the machine is busy (1-min load average {load:.2f} on "
              f"{os.cpu_count()} CPUs); the figures will be noisy\n")
    gen_script = Path(sys.executable).parent / "gen"
    commands = {
        "gen list-models": [str(gen_script), "list-models"],
        "import torch": [sys.executable, "-c", "import torch"],
    }
    for cmd in commands.values():  # warm the file cache so the first timed run is not special
        wall_time(cmd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(args.repeats):
        names = list(commands) if i % 2 == 0 else list(reversed(commands))
        for name in names:
            times[name].append(wall_time(commands[name]))

    print(f"interpreter: {sys.executable}; {args.repeats} runs each, after one warm-up run\n")
    print(f"{'command':<18}{'median s':>10}{'min s':>9}{'max s':>9}")
    for name, ts in times.items():
        print(f"{name:<18}{statistics.median(ts):>10.3f}{min(ts):>9.3f}{max(ts):>9.3f}")
    ratio = statistics.median(times["gen list-models"]) / statistics.median(times["import torch"])
    print(f"\nratio gen list-models / import torch: {ratio:.3f}  (target <= {args.target}) "
          f"{'MET' if ratio <= args.target else 'NOT MET'}")

    imported = torch_imported_by_list_models()
    print(f"torch in sys.modules after list-models: {imported}  (target False) "
          f"{'NOT MET' if imported else 'MET'}")


if __name__ == "__main__":
    main()
