"""Draw a grid that varies one latent code of a trained infogan run (the paper's figure 2).

    python -m gen_infogan.grid RUN_DIR --code categorical --out digits.png
    python -m gen_infogan.grid RUN_DIR --code continuous --index 0 --rows 10 --out c2.png

Each row keeps one draw of the noise and of the other codes; each column sets the chosen code
to one value: every category, or -2..2 in 9 steps for a continuous code.
"""

from __future__ import annotations

import argparse
import sys

import gen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gen_infogan.grid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run directory trained with `gen train infogan`")
    parser.add_argument("--code", choices=("categorical", "continuous"), default="categorical")
    parser.add_argument("--index", type=int, default=0, help="which code of that kind")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="latest", help="latest, best or a step")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="PNG file (default RUN/samples/...)")
    args = parser.parse_args(argv)

    import torch
    from torchvision.utils import save_image

    from gen_infogan.model import InfoGAN

    checkpoint = int(args.checkpoint) if args.checkpoint.isdigit() else args.checkpoint
    try:
        run = gen.load_run(args.run, checkpoint=checkpoint, device=args.device)
        model = run.model
    except gen.GenError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    if not isinstance(model, InfoGAN):
        print(f"error: {args.run} is a run of {run.name!r}, not of infogan", file=sys.stderr)
        return 2
    generator = torch.Generator(model.device).manual_seed(args.seed)
    try:
        images = model.vary_code(args.code, args.index, rows=args.rows, generator=generator)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or str(run.path / "samples" /
                          f"{args.code}-{args.index}-step-{run.step:06d}-seed-{args.seed}.png")
    save_image(images.cpu(), out, nrow=len(images) // args.rows, normalize=True,
               value_range=(-1, 1), padding=2)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
