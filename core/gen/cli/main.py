"""The `gen` group: registers each command module and renders user errors cleanly."""

from __future__ import annotations

import sys
import warnings

import click

from gen.cli import encode, evaluate, models, report, sample, stats, sweep, train
from gen.errors import GenError, GenWarning
from gen.launch import rank_prefix


class GenGroup(click.Group):
    """One way to fail: ``error: <message>`` on stderr and the exit code of docs/robustness.md
    (1 data, files or run; 2 command line or spec; 130 interrupted), never a traceback for a
    user's mistake. Warnings gen raises (`GenWarning`) print as one ``warning:`` line."""

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", GenWarning)
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except GenError as exc:
            _fail(ctx, str(exc), exc.exit_code)
        except click.UsageError as exc:  # click's own checks of options and arguments
            where = f"\nTry '{exc.ctx.command_path} --help' for help." if exc.ctx else ""
            _fail(ctx, exc.format_message() + where, exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "interrupted", 130)
        except EOFError as exc:  # a bug, not the user's abort (click would print "Aborted!")
            raise RuntimeError(f"unexpected end of input: {exc}") from exc


def _fail(ctx: click.Context, message: str, code: int) -> None:
    click.secho(f"{rank_prefix()}error: ", fg="red", bold=True, err=True, nl=False)
    click.echo(message, err=True)
    ctx.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GenWarning):
        click.secho("warning: ", fg="yellow", bold=True, err=True, nl=False)
        click.echo(str(message), err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@click.group(cls=GenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gen-core", prog_name="gen")
def cli() -> None:
    """Train, sample and evaluate image generative models; every family is a plugin."""


for command in (*models.commands, train.train, sample.sample, evaluate.evaluate,
                stats.stats, encode.encode, report.report, sweep.sweep):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="gen")
