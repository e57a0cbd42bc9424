"""The sweep folder: what marks it as gen's, and where each trial's files go.

    SWEEP/sweep.json                what the sweep is (written first: it marks the folder):
                                    study, model, space, metric, fixed spec, storage, gen version
    SWEEP/study.db                  the Optuna study (SQLite), unless --storage names another
    SWEEP/trial-0007/               trial 7: an ordinary gen run (spec.json, checkpoints, ...)
    SWEEP/logs/trial-0007.log       what its `gen train` (and `gen evaluate`) printed
    SWEEP/logs/trial-0007.spec.json the spec it was started with
    SWEEP/logs/trial-0007.lock      held by the sweep process that runs trial 7

As for runs, gen writes only into a folder that is missing, empty or a gen sweep; a sweep of
another model, space or spec is refused, and nothing is written into a folder refused.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from gen.errors import FolderError, GenError, UsageError

SWEEP_FORMAT = 1
MARKER = "gen_sweep"  # the key of sweep.json that holds SWEEP_FORMAT
# What must match when a sweep is continued: a trial of another space or spec would not belong
# to the same study.
DEFINITION = ("study", "model", "plugin", "space", "metric", "spec", "storage")


@dataclass(frozen=True)
class SweepDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def marker(self) -> Path:
        return self.root / "sweep.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def run(self, number: int) -> Path:
        return self.root / self.run_name(number)

    @staticmethod
    def run_name(number: int) -> str:
        return f"trial-{number:04d}"

    def log(self, number: int) -> Path:
        return self.logs / f"{self.run_name(number)}.log"

    def spec_file(self, number: int) -> Path:
        return self.logs / f"{self.run_name(number)}.spec.json"

    def claim_file(self, number: int) -> Path:
        return self.logs / f"{self.run_name(number)}.lock"

    def default_storage(self) -> str:
        return f"sqlite:///{(self.root / 'study.db').resolve()}"

    def is_sweep(self) -> bool:
        return self.read() is not None

    def read(self) -> dict[str, Any] | None:
        """sweep.json, or None where the folder is not a gen sweep."""
        try:
            data = json.loads(self.marker.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get(MARKER), int) else None

    def require(self) -> dict[str, Any]:
        """For readers (`gen report`): sweep.json, else an error naming the folder."""
        definition = self.read()
        if definition is None:
            what = "does not exist" if not self.root.exists() else "is not a gen sweep (no " \
                "gen sweep.json in it)"
            raise GenError(f"{self.root} {what}")
        return definition

    def check_target(self, definition: dict[str, Any]) -> dict[str, Any] | None:
        """For `gen sweep`, before anything is written: may this sweep run here? Returns what
        sweep.json records where the folder is already this sweep, None where it is new."""
        if self.root.exists() and not self.root.is_dir():
            raise FolderError(f"--out {self.root} is a file, not a folder. Choose another --out.")
        recorded = self.read()
        if recorded is None:
            entries = [p.name for p in sorted(self.root.iterdir()) if not _starting(p)] \
                if self.root.is_dir() else []
            if entries:
                shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more"
                                                  if len(entries) > 5 else "")
                raise FolderError(
                    f"--out {self.root} is not empty and not a gen sweep (it holds {shown}); "
                    "gen writes only into a new or empty folder or a gen sweep. Choose another "
                    "--out.")
            return None
        differ = [k for k in DEFINITION if recorded.get(k) != definition.get(k)]
        if differ:
            raise UsageError(
                f"{self.root} is a sweep with another {', '.join(differ)} (see its sweep.json): "
                "continue it with the same model, --space, --metric, --spec, --set and "
                "--storage, or choose another --out")
        return recorded

    def create(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Make the folder this sweep's: sweep.json first, with a fresh id (trials in a shared
        study carry the id of the folder that runs them). Of two processes that start the same
        new sweep at once, the second takes the first one's sweep.json."""
        marked = {MARKER: SWEEP_FORMAT, "id": uuid.uuid4().hex, **definition,
                  "gen_version": _version("gen-core")}
        tmp = self.root / f".sweep.json.tmp-{os.getpid()}-{marked['id']}"
        try:
            self.logs.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(marked, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise GenError(f"cannot write to sweep folder {self.root}: {exc.strerror or exc}. "
                           "Choose another with --out.") from None
        try:
            os.link(tmp, self.marker)  # atomic, and never over another's
        except FileExistsError:
            self.check_target(definition)  # refused where it is another sweep
            return self.require()
        except OSError:  # a file system without hard links: there the last one wins
            os.replace(tmp, self.marker)
        finally:
            tmp.unlink(missing_ok=True)
        return marked


def _starting(path: Path) -> bool:
    """What another process that is making this folder a sweep right now has written."""
    if path.name.startswith(".sweep.json.tmp-"):
        return True
    return path.name == "logs" and path.is_dir() and not any(path.iterdir())


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
