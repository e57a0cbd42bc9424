"""The `gen` group: registers each command module and renders user errors cleanly."""

from __future__ import annotations

import os

import click

from gen.cli import encode, evaluate, models, sample, train
from gen.errors import GenError
from gen.launch import launched_world_size


class GenGroup(click.Group):
    """Turns a `GenError` into ``error: <message>`` on stderr and its exit code, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GenError as exc:
            where = "" if launched_world_size() == 1 else f"[rank {os.environ.get('RANK')}] "
            click.secho(f"{where}error: ", fg="red", bold=True, err=True, nl=False)
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=GenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gen-core", prog_name="gen")
def cli() -> None:
    """Train, sample and evaluate image generative models; every family is a plugin."""


for command in (*models.commands, train.train, sample.sample, evaluate.evaluate,
                encode.encode):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="gen")
