"""Training images/s of each model on one GPU: fp32 against bf16, channels-last and compile.

Each measurement is a real `Trainer` run (the code `gen train` runs) on the bundled MNIST at
batch 64, logging every ``--interval`` steps. The first interval is warm-up (cuDNN autotuning,
torch.compile's kernel builds) and is reported apart as ``warmup_s``; images/s is images over
time across the following intervals. The loop syncs the GPU when it logs (losses become
Python floats), so the intervals time finished work. Runs go one after another, never two at
once on the GPU. Ratios are against the same model's fp32 run in the same invocation.

    python bench/gpu_check.py [--models dcgan,vae] [--modes fp32,bf16,bf16-cl,compile]
                              [--batch-size 64] [--set data.image_size=64] [--intervals 4]
                              [--interval 25] [--budget-s 420] [--json F]

``--budget-s`` stops starting new runs once that much time has passed, so a device lease is
never overrun; what was measured is printed and written to ``--json`` line by line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

MODES = {
    "fp32": {},
    "bf16": {"train.precision": "bf16"},
    "fp16": {"train.precision": "fp16"},
    "bf16-cl": {"train.precision": "bf16", "train.channels_last": True},
    "compile": {"train.compile": True},
    "bf16-compile": {"train.precision": "bf16", "train.compile": True},
}


def measure(info, mode: str, args, root: Path) -> dict:
    import torch

    from gen.testing.kit import tiny_spec, train_tiny

    if MODES[mode].get("train.compile"):
        torch._dynamo.reset()  # variants share network classes: start each from no graphs
    steps = args.interval * (args.intervals + 1)
    overrides = {
        "data.limit": None, "train.device": args.device, "train.batch_size": args.batch_size,
        "train.steps": steps, "train.log_every": args.interval, "train.sample_every": steps,
        "train.checkpoint_every": steps, "train.num_samples": 16, **MODES[mode],
        **dict(_setting(s) for s in args.set),
    }
    out = root / f"{info.name}-{mode}"
    started = time.perf_counter()
    train_tiny(info, tiny_spec(info, overrides), out)
    records = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    warmup, timed = records[0], records[1:]
    seconds = sum(args.interval * args.batch_size / r["images_per_s"] for r in timed)
    return {
        "model": info.name, "mode": mode, "batch_size": args.batch_size, "settings": args.set,
        "images_per_s": len(timed) * args.interval * args.batch_size / seconds,
        "warmup_s": args.interval * args.batch_size / warmup["images_per_s"],
        "wall_s": time.perf_counter() - started,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if args.device != "cpu" else None,
        "device": torch.cuda.get_device_name() if args.device != "cpu" else "cpu",
        "torch": torch.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated (default: every installed model)")
    parser.add_argument("--modes", default="fp32,bf16,bf16-cl,compile")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--interval", type=int, default=25, help="steps per logged interval")
    parser.add_argument("--intervals", type=int, default=4, help="timed intervals per run")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="a spec override for every run, e.g. data.image_size=64")
    parser.add_argument("--budget-s", type=float, default=420)
    parser.add_argument("--json", type=Path, help="append one JSON line per run here")
    args = parser.parse_args()

    import torch

    from gen.plugins import discover

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: nothing to check", file=sys.stderr)
        return 1
    modes = args.modes.split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown modes {unknown}; known: {', '.join(MODES)}")
    registry = discover().registry
    names = args.models.split(",") if args.models else sorted(registry.models)
    start, results = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            base = None
            for mode in modes:
                if time.perf_counter() - start > args.budget_s:
                    print(f"budget of {args.budget_s:.0f} s spent: skipping {name} {mode}")
                    continue
                if args.device != "cpu":
                    torch.cuda.reset_peak_memory_stats()
                try:
                    row = measure(registry.get(name), mode, args, Path(tmp))
                except Exception as exc:  # a mode failing on one model is a finding, not a stop
                    row = {"model": name, "mode": mode, "error": f"{type(exc).__name__}: {exc}"}
                if mode == "fp32" and "images_per_s" in row:
                    base = row["images_per_s"]
                if base and "images_per_s" in row:
                    row["vs_fp32"] = row["images_per_s"] / base
                results.append(row)
                if args.json:
                    with args.json.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                print(_line(row), flush=True)
    return 0


def _setting(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _line(row: dict) -> str:
    if "error" in row:
        return f"{row['model']:16} {row['mode']:13} ERROR {row['error'][:200]}"
    ratio = f"{row['vs_fp32']:.2f}x" if "vs_fp32" in row else "-"
    mem = f"{row['peak_gpu_mb']:.0f} MB" if row.get("peak_gpu_mb") else ""
    return (f"{row['model']:16} {row['mode']:13} {row['images_per_s']:10.0f} img/s  {ratio:>6} "
            f"warm-up {row['warmup_s']:6.1f} s  {mem}")


if __name__ == "__main__":
    sys.exit(main())
