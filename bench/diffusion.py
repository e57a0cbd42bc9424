"""gen's `ddpm` beside diffusers (the library a user would pick instead) on the bundled MNIST at
32x32, at equal compute -> docs/results-diffusion.md.

Both sides train the same network shape on the same images: gen with `gen train ddpm`, diffusers
with its ``UNet2DModel`` built from gen's default U-Net config (``block_out_channels`` = width x
mults, ``layers_per_block`` = res_blocks, attention blocks at gen's attention resolutions,
single-head attention; the parameter counts are printed and must agree within 10%) and a
``DDPMScheduler`` (T = 1000, linear betas 1e-4..0.02, epsilon prediction), trained the way
diffusers' ``train_unconditional.py`` example does (MSE on the noise, gradients clipped at norm
1, Adam lr 2e-4, an ``EMAModel`` of decay 0.9999), on the same 9,000 `train` images read with
gen's data API, at the same batch size. gen's EMA warms its decay up as min(0.9999, (1 + t) /
(10 + t)), which is ``EMAModel``'s schedule without ``use_ema_warmup``; both sample from the
average. Each side runs in its own process with ``--threads`` torch threads
(``torch.set_num_threads`` and OMP_NUM_THREADS / MKL_NUM_THREADS), one side at a time.

Measured, in one run:

- training images/s of each (images drawn per second of training, first steps included: gen's
  from its metrics.jsonl, logged every step and weighted by interval as in bench/budget.py;
  diffusers' over its loop)
  and the ratio gen / diffusers (target >= 1.0);
- FID, KID, precision and recall after the same wall-clock training budget (``--budget``,
  ``train.max_time`` for gen, the same clock for the diffusers loop), ``--n`` DDIM-50 samples
  (eta 0) each, in one space (``--space``, default mnist-grey-28: the 1,000 held-out `test`
  digits and one `lenet` extractor). gen is scored by `gen evaluate --sampler ddim --steps 50`;
  diffusers' samples are written as uint8 to an .npz and scored by the same code path gen
  evaluate uses (gen's QualityScorer reference features, Conversion, extract, FrechetStream,
  kernel_distance, precision_recall), with the same extractor (its hash is checked to match)
  and the same reference images (target: gen's FID lower);
- DDIM-50 sampling seconds per image of each, the median of ``--timing-rounds`` timings
  alternating the two sides (``--time-n`` images in one batch, from loaded
  weights, start-up excluded) and the ratio gen / diffusers (target <= 1.1; both take 50
  network calls per image, so the ratio per image is the ratio per step).

diffusers' ``DDIMScheduler`` is built from the training scheduler's config with
``timestep_spacing="linspace"`` and steps with ``use_clipped_model_output=True``: gen's DDIM
visits the same 50 timesteps (round(linspace(0, 999, 50))) and recomputes eps from the clipped
x0, so the two samplers are the same algorithm and the comparison is of the networks and their
training (one difference is diffusers' own: its step takes the previous timestep as t - 20,
where gen takes the next visited one, e.g. 21 against 20 after 41). diffusers is the bench's
dependency only, never gen's: ``pip install diffusers``.

``--check-scorer`` also draws gen's ``--n`` images with `gen sample` into an .npz and scores
them through the .npz path, which should reproduce `gen evaluate`'s figures (a check of the
scoring path the diffusers side uses).

At the defaults (300 s budget, --n 1000) a run takes about 35 minutes on 2 idle CPU cores
(2 x 300 s of training, 2 x 1,000 DDIM-50 samples at roughly 0.5 s each on one thread);
``--check-scorer`` adds another 1,000 samples.

    python bench/diffusion.py [--budget 300] [--n 1000] [--batch-size 64] [--threads 1] \\
        [--time-n 100] [--out docs/results-diffusion.md] \\
        [--json-out runs/diffusion/results.json] [--check-scorer] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _metrics import child_env  # bench/ is the script's folder: on sys.path
from budget import NEVER, images_per_s, machine, parse_budget, prepare_extractor, seconds
from quality import gen, shown

ROOT = Path(__file__).resolve().parents[1]
QUALITY = "fid,kid,precision,recall"
SPACE = "mnist-grey-28"
STEPS = 50  # DDIM steps of every sample
IMAGE_SIZE = 32
MATCH = 0.10  # the most the two networks' parameter counts may differ, relative to gen's
MISSING = ("diffusers is not installed in this environment; it is this benchmark's own "
           "dependency, never gen's: run `.venv/bin/pip install diffusers` (or `pip install "
           "diffusers` in the environment that runs bench/diffusion.py)")


# -- the children: each runs in its own process with its own thread count ----------------------

def child_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def diffusers_config(spec: dict, image_size: int, channels: int = 1) -> dict:
    """``UNet2DModel`` arguments for the network of gen's ddpm spec: the same widths, blocks
    per level, attention resolutions (single-head) and GroupNorm groups where both use 32."""
    widths = [spec["width"] * m for m in spec["mults"]]
    sizes = [image_size // 2**i for i in range(len(widths))]
    attention = [s in spec["attention_resolutions"] for s in sizes]
    return {
        "sample_size": image_size, "in_channels": channels, "out_channels": channels,
        "block_out_channels": widths, "layers_per_block": spec["res_blocks"],
        "down_block_types": ["AttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        "up_block_types": ["AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)],
        "attention_head_dim": None, "norm_num_groups": min(32, widths[0]),
        "dropout": spec["dropout"],
    }


def count(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def child_params(cfg: dict) -> dict:
    """Both networks' parameter counts: gen's model built from the registry, as `gen train`
    builds it, and diffusers' UNet2DModel from `diffusers_config`."""
    from diffusers import UNet2DModel

    from gen.data.info import DataInfo
    from gen.plugins import discover

    info = discover().registry.models["ddpm"]
    spec = info.spec_class()()
    data = DataInfo("bundled-mnist", 1, IMAGE_SIZE, 10, 9000)
    model = info.model_class()(spec, data)
    config = diffusers_config(spec.model_dump(), IMAGE_SIZE)
    return {"gen": count(model.modules.values()), "diffusers": count([UNet2DModel(**config)]),
            "config": config}


def train_images():
    """gen's `train` part of the bundled MNIST at 32x32, as [-1, 1] floats (gen's loader's
    scaling), read with gen's data API: the images `gen train ddpm` reads."""
    from gen.data.datasets import load_dataset
    from gen.specs import DataSpec

    data = load_dataset(DataSpec(dataset="bundled-mnist", image_size=IMAGE_SIZE, split="train"))
    return data.images.float().div_(127.5).sub_(1.0)


def child_diffusers_train(cfg: dict) -> dict:
    """diffusers' training loop (as its train_unconditional.py example): for ``budget`` seconds
    of training, batches of shuffled images, t ~ U{0..T-1}, x_t by ``add_noise``, MSE against
    the noise, gradients clipped at norm 1 (the example's max_grad_norm, and gen's ddpm's
    train.grad_clip default), Adam, then an EMA step. Saves the EMA weights."""
    import torch
    from diffusers import DDPMScheduler, UNet2DModel
    from diffusers.training_utils import EMAModel
    from torch.nn import functional as F

    child_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    images = train_images()
    unet = UNet2DModel(**cfg["config"])
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear",
                              beta_start=1e-4, beta_end=0.02, prediction_type="epsilon")
    opt = torch.optim.Adam(unet.parameters(), lr=2e-4, betas=(0.9, 0.999))
    ema = EMAModel(unet.parameters(), decay=0.9999)
    order, position, drawn, steps = torch.randperm(len(images)), 0, 0, 0
    batch = cfg["batch_size"]
    unet.train()
    start = time.perf_counter()
    while time.perf_counter() - start < cfg["budget"]:
        if position + batch > len(images):  # a new epoch, as gen's loader drops the last part
            order, position = torch.randperm(len(images)), 0
        x0 = images[order[position:position + batch]]
        position += batch
        noise = torch.randn_like(x0)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,))
        loss = F.mse_loss(unet(scheduler.add_noise(x0, noise, t), t).sample, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)  # as the example and gen's ddpm
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema.step(unet.parameters())
        drawn += batch
        steps += 1
    train_s = time.perf_counter() - start
    ema.copy_to(unet.parameters())
    unet.save_pretrained(cfg["out"])
    scheduler.save_config(cfg["out"])
    return {"steps": steps, "images": drawn, "train_s": train_s,
            "images_per_s": drawn / train_s, "loss": loss.item(), "params": count([unet])}


def child_diffusers_sample(cfg: dict) -> dict:
    """``n`` DDIM samples (eta 0) from the saved EMA weights in batches, timed; written as
    uint8 (N, 1, H, W) to ``npz`` if given."""
    import numpy as np
    import torch
    from diffusers import DDIMScheduler, UNet2DModel

    child_threads(cfg["threads"])
    unet = UNet2DModel.from_pretrained(cfg["weights"]).eval()
    scheduler = DDIMScheduler.from_pretrained(cfg["weights"], timestep_spacing="linspace")
    scheduler.set_timesteps(cfg["steps"])
    g = torch.Generator().manual_seed(cfg["seed"])
    size, batches = unet.config.sample_size, []
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, cfg["n"], cfg["batch"]):
            count_ = min(cfg["batch"], cfg["n"] - first)
            x = torch.randn((count_, unet.config.in_channels, size, size), generator=g)
            for t in scheduler.timesteps:
                eps = unet(x, t).sample
                x = scheduler.step(eps, t, x, eta=0.0, use_clipped_model_output=True,
                                   generator=g).prev_sample
            batches.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    elapsed = time.perf_counter() - start
    if cfg.get("npz"):
        np.savez(cfg["npz"], images=torch.cat(batches).numpy())
    return {"seconds": elapsed, "n": cfg["n"], "s_per_image": elapsed / cfg["n"],
            "timesteps": [int(t) for t in scheduler.timesteps]}


def child_gen_sample(cfg: dict) -> dict:
    """``n`` DDIM-50 samples of a gen run through the Python API (`gen.load_run(...).sample`),
    timed after the weights are loaded."""
    import gen as gen_api

    child_threads(cfg["threads"])
    run = gen_api.load_run(cfg["run"], device="cpu")
    model = run.model  # loaded (and its weight average swapped in) before the clock starts
    start = time.perf_counter()
    run.sample(cfg["n"], seed=cfg["seed"], batch_size=cfg["batch"], sampler="ddim",
               steps=cfg["steps"], eta=0.0)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "n": cfg["n"], "s_per_image": elapsed / cfg["n"],
            "params": count(model.modules.values())}


def child_score(cfg: dict) -> dict:
    """FID, KID, precision and recall of the uint8 images in ``npz`` the way `gen evaluate
    --space SPACE` scores a model's samples: the same reference subset (``n`` and ``seed``),
    extractor, conversion to the space's shape and estimators."""
    import numpy as np
    import torch

    from gen.data.datasets import load_dataset
    from gen.evaluation.evaluate import parse_space, reference_spec
    from gen.evaluation.metrics.feature_distances import FrechetStream, kernel_distance
    from gen.evaluation.metrics.precision_recall import K, precision_recall
    from gen.evaluation.quality import Conversion, QualityScorer, reference_record
    from gen.extractors.base import ExtractorRequest, build_extractor, extract
    from gen.plugins import get_plugins

    child_threads(cfg["threads"])
    images = torch.from_numpy(np.load(cfg["npz"])["images"])[: cfg["n"]]
    space = parse_space(cfg["space"])
    data = load_dataset(reference_spec(space, "test", space.channels))
    request = ExtractorRequest(data=space, channels=data.info.channels,
                               image_size=data.info.image_size, device="cpu")
    extractor = build_extractor(get_plugins(), "lenet", request)
    scorer = QualityScorer.build(extractor, data, len(images), cfg["seed"], 256,
                                 reference_record(cfg["space"], space, "test", data))
    convert = Conversion((images.shape[1], images.shape[-1]), scorer.shape)
    fake = torch.cat([extract(extractor, convert(images[i:i + 256]), 256)
                      for i in range(0, len(images), 256)])
    fid = FrechetStream(scorer.real)
    fid.update(fake)
    precision, recall = precision_recall(scorer.real, fake, K, scorer.device)
    values = {"fid": fid.compute(), "kid": kernel_distance(scorer.real, fake, cfg["seed"])[0],
              "precision": precision, "recall": recall}
    provenance = {**scorer.provenance(), "conversion": convert.describe()}
    return {m: {"metric": m, "value": v, **provenance} for m, v in values.items()}


CHILDREN = {"params": child_params, "diffusers-train": child_diffusers_train,
            "diffusers-sample": child_diffusers_sample, "gen-sample": child_gen_sample,
            "score": child_score}


# -- the parent: runs the children one at a time, collects, writes -------------------------------

def call(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:]) or "(no output)"
        raise SystemExit(f"`{shown(cmd)}` failed:\n{tail}")
    return proc.stdout


def child(role: str, cfg: dict, env: dict[str, str]) -> dict:
    out = call([sys.executable, str(Path(__file__).resolve()), "--child", role,
                json.dumps(cfg)], env)
    return json.loads(out.strip().splitlines()[-1])


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def read_gen_log(metrics: Path) -> dict:
    from gen.run.metrics_log import read_metrics  # no torch

    records = [r for r in read_metrics(metrics) if "evaluation" not in r]
    stop = next((r for r in reversed(records) if isinstance(r.get("stopped"), dict)), None)
    return {"steps": (stop or records[-1])["step"],
            "train_s": stop["stopped"].get("train_s") if stop else None,
            "images_per_s": images_per_s(records), "stopped": stop is not None}


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def table(res: dict) -> list[str]:
    g, d = res["gen"], res["diffusers"]
    rows = [("parameters", f"{g['params']:,}", f"{d['params']:,}",
             fmt(ratio(g["params"], d["params"]), 3), "within 10%"),
            ("training steps in the budget", str(g["steps"]), str(d["steps"]),
             fmt(ratio(g["steps"], d["steps"]), 2), ""),
            ("training images/s", fmt(g["images_per_s"], 1), fmt(d["images_per_s"], 1),
             fmt(res["ratios"]["images_per_s"], 2), ">= 1.0")]
    for m, digits, target in [("fid", 1, "gen lower"), ("kid", 2, ""), ("precision", 3, ""),
                              ("recall", 3, "")]:
        gv, dv = g["scores"].get(m), d["scores"].get(m)
        rows.append((m.upper() if m in ("fid", "kid") else m, fmt(gv, digits), fmt(dv, digits),
                     fmt(ratio(gv, dv), 2) if m == "fid" else "", target))
    rows.append(("DDIM-50 sampling s/image", fmt(g["s_per_image"], 3),
                 fmt(d["s_per_image"], 3), fmt(res["ratios"]["s_per_image"], 2), "<= 1.1"))
    return ["| figure | gen ddpm | diffusers | gen / diffusers | target |",
            "|---|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {r} | {t} |" for a, b, c, r, t in rows)]


def verdicts(res: dict) -> list[str]:
    g, d, r = res["gen"], res["diffusers"], res["ratios"]
    checks = [("training images/s gen / diffusers >= 1.0", r["images_per_s"] is not None
               and r["images_per_s"] >= 1.0, fmt(r["images_per_s"], 2)),
              ("FID lower at equal time", g["scores"].get("fid", float("inf"))
               < d["scores"].get("fid", float("inf")),
               f"{fmt(g['scores'].get('fid'), 1)} vs {fmt(d['scores'].get('fid'), 1)}"),
              ("sampling cost per step gen / diffusers <= 1.1", r["s_per_image"] is not None
               and r["s_per_image"] <= 1.1, fmt(r["s_per_image"], 2))]
    return [f"- {'met' if ok else 'NOT met'}: {what} ({value})" for what, ok, value in checks]


def write(res: dict, args, path: Path) -> None:
    g, d = res["gen"], res["diffusers"]
    threads = "thread" if args.threads == 1 else "threads"
    check = res.get("scorer_check")
    lines = [
        "# Results: gen's ddpm beside diffusers",
        "",
        f"gen's `ddpm` and diffusers ({res['versions']['diffusers']}: `UNet2DModel` + "
        "`DDPMScheduler`, `EMAModel`, DDIM sampling with `DDIMScheduler`) trained on the "
        f"bundled MNIST (its 9,000-image `train` part at {IMAGE_SIZE}x{IMAGE_SIZE}, read with "
        f"gen's data API for both) for the same {seconds(args.budget)} s of training, batch "
        f"{args.batch_size}, Adam lr 2e-4, T = 1000 linear betas, epsilon prediction, MSE, "
        f"EMA decay 0.9999 (warmed up as (1 + t) / (10 + t) by both), {args.threads} CPU "
        f"{threads} each (`torch.set_num_threads`), one side at a time. The diffusers "
        "network is built from gen's default U-Net config "
        f"(`{json.dumps(res['config']['block_out_channels'])}` channels, "
        f"{res['config']['layers_per_block']} block(s) per level, "
        f"`{', '.join(res['config']['down_block_types'])}`, single-head attention): "
        f"{d['params']:,} parameters against gen's {g['params']:,}. Sampling is DDIM with 50 "
        "steps and eta 0 on both (the same timesteps and clipping: see bench/diffusion.py). "
        f"Quality: `--n {args.n}` samples of each against the "
        f"{min(args.n, 1000)} held-out `test` images in `--space {args.space}`, "
        f"{res['extractor']}; gen's by `gen evaluate`, diffusers' from an .npz of uint8 "
        "images through the same scoring code. Sampling time: "
        f"{args.time_n} images in one batch from loaded weights, per image, the median of "
        f"{args.timing_rounds} timings alternating the sides (each side's: "
        f"{', '.join(fmt(v, 3) for v in g['s_per_image_rounds'])} and "
        f"{', '.join(fmt(v, 3) for v in d['s_per_image_rounds'])} s). FID and KID are "
        "on lenet's scale, not comparable with Inception-based numbers from papers. "
        "Generated by",
        "",
        f"```sh\n{res['command']}\n```",
        "",
        f"on {res['machine']}, torch {res['versions']['torch']}, in "
        f"{res['wall_s'] / 60:.1f} minutes in all.",
        "",
        *table(res),
        "",
        *verdicts(res),
        "",
    ]
    if check:
        lines += [f"Scoring-path check (`--check-scorer`): gen's samples drawn with `gen sample` "
                  f"and scored through the .npz path give FID {check['fid']:.2f} against "
                  f"`gen evaluate`'s {g['scores']['fid']:.2f}.", ""]
    lines += ["## Reproduce gen's side", "", "```sh", *res["commands"], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--budget", type=parse_budget, default=None, metavar="SECONDS",
                    help="training time of each side: seconds or HH:MM:SS (default 300)")
    ap.add_argument("--n", type=int, default=None,
                    help="DDIM-50 samples scored per side (default 1000)")
    ap.add_argument("--batch-size", type=int, default=64, help="training batch of both sides")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of each side")
    ap.add_argument("--timing-rounds", type=int, default=3,
                    help="sampling timings of each side, alternating; the median is reported "
                    "(default 3)")
    ap.add_argument("--time-n", type=int, default=None,
                    help="images timed for the sampling cost, in one batch (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--space", default=SPACE, help="gen evaluate --space of both sides")
    ap.add_argument("--runs", metavar="DIR", default=None,
                    help="the runs, weights and samples (default runs/diffusion; replaced)")
    ap.add_argument("--out", default=None, help="the Markdown table "
                    "(default docs/results-diffusion.md; with --quick, under --runs)")
    ap.add_argument("--json-out", default=None,
                    help="the figures as JSON (default RUNS/results.json)")
    ap.add_argument("--check-scorer", action="store_true",
                    help="also score gen's samples through the .npz path (costs --n samples)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: --budget 10 --n 100 --time-n 8, under runs/diffusion-quick")
    args = ap.parse_args()
    quick = {"budget": 10.0, "n": 100, "time_n": 8} if args.quick else {}
    for key, full in {"budget": 300.0, "n": 1000, "time_n": 100}.items():
        if getattr(args, key) is None:
            setattr(args, key, quick.get(key, full))
    args.runs = args.runs or ("runs/diffusion-quick" if args.quick else "runs/diffusion")
    args.out = args.out or (f"{args.runs}/results.md" if args.quick
                            else str(ROOT / "docs" / "results-diffusion.md"))
    args.json_out = args.json_out or f"{args.runs}/results.json"
    if min(args.n, args.batch_size, args.threads, args.time_n, args.timing_rounds) < 1 or \
            args.n < 4:
        raise SystemExit("--n takes a number >= 4; --batch-size, --threads, --time-n, "
                         "--timing-rounds >= 1")
    if importlib.util.find_spec("diffusers") is None:
        raise SystemExit(MISSING)

    command = shlex.join(["python", "bench/diffusion.py", *sys.argv[1:]])
    env = child_env(args.threads)
    runs = Path(args.runs)
    shutil.rmtree(runs, ignore_errors=True)  # this bench's own runs, from last time
    runs.mkdir(parents=True)
    start = time.perf_counter()
    base = {"threads": args.threads, "seed": args.seed}

    params = child("params", base, env)
    say(f"parameters: gen ddpm {params['gen']:,}, diffusers UNet2DModel {params['diffusers']:,}")
    if abs(params["diffusers"] - params["gen"]) > MATCH * params["gen"]:
        raise SystemExit(f"the networks differ by more than {MATCH:.0%} in parameters: "
                         f"{params['gen']:,} vs {params['diffusers']:,}")
    prepare_extractor(args.space)  # trained once, outside any timed or budgeted work

    run_dir = runs / "gen-ddpm"
    train = gen("train", "ddpm", "--out", str(run_dir), "-q",
                "--set", f"train.max_time={seconds(args.budget)}", "--set", f"train.steps={NEVER}",
                "--set", "train.device=cpu", "--set", f"train.seed={args.seed}",
                "--set", f"train.batch_size={args.batch_size}",
                "--set", f"data.image_size={IMAGE_SIZE}", "--set", f"train.sample_every={NEVER}",
                "--set", f"train.checkpoint_every={NEVER}", "--set", "train.log_every=1")
    say(f"gen: training {seconds(args.budget)} s ...")
    call(train, env)
    g = read_gen_log(run_dir / "metrics.jsonl")
    if g["images_per_s"] is None and g["train_s"]:  # no rate logged: images over time
        g["images_per_s"] = g["steps"] * args.batch_size / g["train_s"]
    say(f"  {g['steps']} steps, {fmt(g['images_per_s'], 1)} images/s")

    weights = runs / "diffusers-ddpm"
    say(f"diffusers: training {seconds(args.budget)} s ...")
    d = child("diffusers-train", {**base, "budget": args.budget, "batch_size": args.batch_size,
                                  "config": params["config"], "out": str(weights)}, env)
    say(f"  {d['steps']} steps, {d['images_per_s']:.1f} images/s")

    timing = {**base, "n": args.time_n, "batch": args.time_n, "steps": STEPS}
    say(f"timing DDIM-{STEPS} sampling of {args.time_n} images, {args.timing_rounds} rounds "
        "alternating the sides ...")
    g_times, d_times = [], []
    for _ in range(args.timing_rounds):  # alternating: a busy spell of the machine hits both
        g_time = child("gen-sample", {**timing, "run": str(run_dir)}, env)
        g_times.append(g_time["s_per_image"])
        d_time = child("diffusers-sample", {**timing, "weights": str(weights)}, env)
        d_times.append(d_time["s_per_image"])
    g.update(params=g_time["params"], s_per_image=statistics.median(g_times),
             s_per_image_rounds=g_times)
    d.update(s_per_image=statistics.median(d_times), s_per_image_rounds=d_times)

    evaluate = gen("evaluate", str(run_dir), "--metrics", QUALITY, "--n", str(args.n),
                   "--space", args.space, "--seed", str(args.seed), "--device", "cpu",
                   "--sampler", "ddim", "--steps", str(STEPS), "--eta", "0", "--json")
    say(f"gen: scoring {args.n} samples ...")
    g_records = {r["metric"]: r for r in json.loads(call(evaluate, env))}
    g["scores"] = {m: r["value"] for m, r in g_records.items()}

    say(f"diffusers: drawing and scoring {args.n} samples ...")
    npz = runs / "diffusers-samples.npz"
    child("diffusers-sample", {**base, "n": args.n, "batch": 250, "steps": STEPS,
                               "weights": str(weights), "npz": str(npz)}, env)
    score = {"threads": args.threads, "seed": args.seed, "n": args.n, "space": args.space}
    d_records = child("score", {**score, "npz": str(npz)}, env)
    d["scores"] = {m: r["value"] for m, r in d_records.items()}
    hashes = {r["extractor_hash"] for r in [*g_records.values(), *d_records.values()]}
    if len(hashes) != 1:
        raise SystemExit(f"the two sides were scored with different extractors: {hashes}")
    accuracy = next(iter(g_records.values())).get("extractor_test_accuracy", "?")

    commands = [shown(train), shown(evaluate)]
    check = None
    if args.check_scorer:
        say(f"check: gen's {args.n} samples through the .npz path ...")
        gen_npz = runs / "gen-samples.npz"
        sample = gen("sample", str(run_dir), "-n", str(args.n), "--seed", str(args.seed),
                     "--out", str(gen_npz), "--sampler", "ddim", "--steps", str(STEPS),
                     "--eta", "0", "--device", "cpu")
        call(sample, env)
        check = {m: r["value"] for m, r in child("score", {**score, "npz": str(gen_npz)},
                                                  env).items()}
        commands.append(shown(sample))

    import diffusers  # present: checked above
    import torch

    res = {"command": command, "machine": machine(), "budget_s": args.budget, "n": args.n,
           "batch_size": args.batch_size, "threads": args.threads, "time_n": args.time_n,
           "seed": args.seed, "space": args.space, "sampler": f"ddim, {STEPS} steps, eta 0",
           "versions": {"diffusers": diffusers.__version__, "torch": torch.__version__},
           "config": params["config"], "gen": g, "diffusers": d,
           "ratios": {"images_per_s": ratio(g["images_per_s"], d["images_per_s"]),
                      "s_per_image": ratio(g["s_per_image"], d["s_per_image"]),
                      "fid": ratio(g["scores"].get("fid"), d["scores"].get("fid"))},
           "extractor": f"one `lenet` extractor for both ({hashes.pop()}, test accuracy "
                        f"{accuracy})",
           "diffusers_timesteps": d_time["timesteps"], "scorer_check": check,
           "commands": commands, "wall_s": time.perf_counter() - start}
    print("\n".join([*table(res), "", *verdicts(res)]))
    if check:
        print(f"scorer check: gen's samples via .npz FID {check['fid']:.3f}, "
              f"gen evaluate {g['scores']['fid']:.3f}")
    write(res, args, Path(args.out))
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out} and {args.json_out} ({res['wall_s'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
