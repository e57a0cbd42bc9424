"""Options the commands that read a run (sample, evaluate, encode) share, defined once so their
names, defaults and help never drift apart."""

from __future__ import annotations

import math

import click

checkpoint_option = click.option(
    "--checkpoint", default="latest", show_default=True,
    help="'latest', 'best' (kept by train.eval_every) or a step number.")

device_option = click.option(
    "--device", default="auto", show_default=True,
    help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")


class FiniteFloat(click.ParamType):
    """A float that is finite (click's FloatRange lets nan through) and within bounds."""

    name = "float"

    def __init__(self, low: float | None = None, high: float | None = None,
                 low_open: bool = False):
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        below = self.low is not None and (
            number <= self.low if self.low_open else number < self.low)
        if below or (self.high is not None and number > self.high):
            low = "" if self.low is None else f"{self.low:g}<{'' if self.low_open else '='}"
            high = "" if self.high is None else f"<={self.high:g}"
            self.fail(f"{number:g} is not in the range {low}x{high}.", param, ctx)
        return number


_SAMPLING = (
    click.option("--sampler", help="Iterative models (diffusion, flow matching): the sampler, "
                 "e.g. ancestral or ddim (`gen list-models` lists each model's). Default: the "
                 "model's."),
    click.option("--steps", type=click.IntRange(min=1), default=None,
                 help="Iterative models: sampling steps (network evaluations grow with them). "
                 "Default: the model's."),
    click.option("--eta", type=FiniteFloat(0.0, 1.0), default=None,
                 help="Samplers that take it (ddim): 0 deterministic, 1 as stochastic as "
                 "ancestral sampling. Default: the model's."),
    click.option("--guidance", type=FiniteFloat(), default=None,
                 help="Conditional models whose sample() takes it: the classifier-free "
                 "guidance scale (1: none). Default: the model's."),
    click.option("--truncation", type=FiniteFloat(0.0, low_open=True), default=None,
                 help="Models with a truncatable latent (GANs, VAEs, flows): the truncation "
                 "trick, every latent element beyond T in absolute value drawn again (lower: "
                 "less variety, more typical images; 0.5 to 2 is usual). Recorded with the "
                 "images and scores."),
)


def sampling_options(command):
    """--sampler, --steps, --eta, --guidance and --truncation
    (`gen.sampling_options.SamplingOptions`)."""
    for option in reversed(_SAMPLING):
        command = option(command)
    return command


class UserPath(click.Path):
    """click's Path with ``~`` and ``~user`` expanded (a quoted ``--out '~/x'`` or
    ``--out=~/x`` reaches gen unexpanded by the shell), and an empty path (which Python reads
    as the current folder), a NUL byte or a home that cannot be expanded refused naming the
    option (exit 2). ``allow_empty`` leaves an empty one to the command, which names what to
    give instead."""

    def __init__(self, *args, allow_empty: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_empty = allow_empty

    def convert(self, value, param, ctx):
        from gen.errors import UsageError
        from gen.paths import expand_user

        if isinstance(value, str) and (value.strip() or not self.allow_empty):
            try:
                value = expand_user(value, "the path")
            except UsageError as exc:
                self.fail(str(exc), param, ctx)
        return super().convert(value, param, ctx)
