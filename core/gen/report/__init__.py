"""`gen report`: one self-contained HTML page of one or more runs, built from `Run` objects.

`collect` gathers what a run shows (facts, curves, grids, scores, warnings) with no HTML,
`plots` draws curves as SVG with matplotlib, `page` writes the HTML, `write` puts them together
and writes the file (atomically; with `watch_report`, again every so many seconds). Importing
this package is cheap: torch and matplotlib load when a report is built.
"""

from gen.report.write import render_report, watch_report, write_report

__all__ = ["render_report", "watch_report", "write_report"]
