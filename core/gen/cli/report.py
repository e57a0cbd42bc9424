"""gen report RUN [RUN ...]: one self-contained HTML page of runs (grids, curves, scores, health
warnings) and, for several, their comparison; gen report SWEEP: a sweep's trials ranked."""

from __future__ import annotations

from datetime import datetime

import click

from gen.cli.interrupt import terminate_as_interrupt
from gen.cli.options import UserPath
from gen.errors import UsageError


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=UserPath(file_okay=False))
@click.option("--storage", help="For a sweep: the Optuna storage URL with its password (the "
              "sweep folder records it without).")
@click.option("--out", default="report.html", show_default=True, type=UserPath(dir_okay=False),
              help="The .html file to write: new, or a report gen wrote before (nothing else "
              "is overwritten, and nothing else is written).")
@click.option("--watch", type=click.FloatRange(min=0, min_open=True, max=86_400),
              metavar="SECONDS",
              help="Rewrite the report every SECONDS (an open page reloads itself) until "
              "Ctrl-C; for runs still training.")
def report(runs: tuple[str, ...], out: str, watch: float | None, storage: str | None) -> None:
    """Write an HTML report of one or more runs (two or more are also compared), or of one
    sweep folder (`gen sweep`: its trials ranked, with Optuna's plots)."""
    from gen.report.write import watch_report, write_page, write_report  # torch, matplotlib
    from gen.sweep import is_sweep

    sweeps = [r for r in runs if is_sweep(r)]
    if sweeps:
        if len(runs) > 1 or watch is not None:
            raise UsageError(f"{sweeps[0]} is a sweep folder: report it alone, without --watch "
                             "(its page ranks its trials; name trial folders to compare runs)")
        from gen.sweep import render_sweep_report

        path = write_page(render_sweep_report(sweeps[0], storage), out)
        click.echo(f"report of sweep {sweeps[0]} -> {path}")
        return
    if storage is not None:
        raise UsageError("--storage applies to a sweep folder only")
    if watch is None:
        path = write_report(runs, out)
        click.echo(f"report of {len(runs)} run{'s' if len(runs) > 1 else ''} -> {path}")
        return

    written = []

    def wrote(path) -> None:
        written.append(path)
        click.echo(f"{datetime.now():%H:%M:%S} report -> {path}")

    try:
        with terminate_as_interrupt():
            watch_report(runs, out, watch, on_write=wrote)
    except KeyboardInterrupt:  # the way to stop watching: not a failure once a report is out
        if not written:
            raise
        click.echo(f"stopped watching; {written[-1]} holds the last report written")
