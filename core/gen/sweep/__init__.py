"""`gen sweep`: hyper-parameter studies on Optuna whose trials are ordinary gen runs
(docs/sweep.md). Importing this package is cheap: Optuna, torch and matplotlib load when a
sweep runs or a report is made.

``gen.sweep`` is both this package and the function `sweep`: ``gen.sweep("gan", space, 20)``
calls it. Python binds a package's submodules to its parent's attribute of the same name, so a
function ``gen.sweep`` beside a package ``gen.sweep`` would be replaced by the package as soon
as anything imported it; a callable package keeps both meanings.
"""

import sys
import types
from pathlib import Path

from gen.sweep.api import sweep
from gen.sweep.folder import SweepDir
from gen.sweep.outcome import Best, SweepResult
from gen.sweep.report import render_sweep_report


def is_sweep(path: str | Path) -> bool:
    """Whether ``path`` is a sweep folder (its sweep.json says so): what `gen report` asks."""
    return SweepDir(Path(path)).is_sweep()


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs) -> SweepResult:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage

__all__ = ["Best", "SweepDir", "SweepResult", "is_sweep", "render_sweep_report", "sweep"]
