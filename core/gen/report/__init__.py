"""`gen report`: one self-contained HTML page of one or more runs, built from `Run` objects.

`collect` gathers what a run shows (with `records` for metrics.jsonl, `timeline` for its wall
time and images seen, `measurement` for how each score was measured), `facts` puts a run's
facts in words, `compare` sets runs side by side, `figures` decides what is plotted and
`plots` draws it as SVG with matplotlib, `page` fills the Jinja2 template in ``templates/``,
and `write` writes the file (atomically; with `watch_report`, again every so many seconds).
Importing this package is cheap: torch and matplotlib load when a report is built.
"""

from gen.report.write import render_report, watch_report, write_report

__all__ = ["render_report", "watch_report", "write_report"]
