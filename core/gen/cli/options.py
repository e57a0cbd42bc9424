"""Options the commands that read a run (sample, evaluate, encode) share, defined once so their
names, defaults and help never drift apart."""

from __future__ import annotations

import click

checkpoint_option = click.option(
    "--checkpoint", default="latest", show_default=True,
    help="'latest', 'best' (kept by train.eval_every) or a step number.")

device_option = click.option(
    "--device", default="auto", show_default=True,
    help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
