"""Standard output for tables and result lines: fitted to a terminal, whole when piped."""

from __future__ import annotations

from rich.console import Console

_UNBOUNDED = 1_000_000  # columns: piped, a table's rows are as wide as their content


def stdout_console() -> Console:
    """On a terminal a console fits the window; piped or redirected (``| grep``, ``> file``)
    every row and line is printed whole, never cut at 80 columns with an ellipsis."""
    console = Console()
    if not console.is_terminal:
        console = Console(file=console.file, width=_UNBOUNDED)
    return console
