"""The layout of a run directory, and which folders gen may write into.

    RUN/run.json               written first: marks the folder as a gen run (format version),
                               then model, plugin and versions, device, data shape
    RUN/spec.json              the resolved spec (valid input to `gen train --spec`)
    RUN/checkpoints/           step-NNNNNN.pt, latest.pt (and best.pt with train.eval_every)
    RUN/samples/               step-NNNNNN.png grids
    RUN/metrics.jsonl          one JSON object per logged step
    RUN/.lock                  held by the process training the run (`gen.run.lock`)
    RUN/tensorboard/, mlruns/, wandb/   the trackers' own records

gen writes only into a folder that is missing, empty, or a gen run: anything else is a
`FolderError` and nothing is written. Readers ask `require_run`; writers `check_target`, then
`claim` the folder under its lock. No entry gen writes may be a symbolic link (`check_links`):
a run unpacked from someone else's archive could otherwise make gen write anywhere. The run
folder itself may be one: the user named it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gen.errors import CheckpointError, FolderError, GenError, RunLockedError
from gen.fileio import atomic_write_text
from gen.run.lock import RunLock

RUN_FORMAT = 1
MARKER = "gen_run"  # the key of run.json that holds RUN_FORMAT
STEP_FILE = re.compile(r"^step-(\d+)\.pt$")
GRID_FILE = re.compile(r"^step-(\d+)\.png$")
# Temporary files of gen.fileio.atomic_write: `.NAME.tmp-PID.EXT`. Those of the files only the
# run's writer makes are orphans of a killed write once the writer holds the lock; another's
# (gen sample's grids) is an orphan when its process is gone.
_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)(\.\w+)?$")
_WRITER_FILES = re.compile(r"^(step-\d+|latest|best|spec|run|metrics)$")
_PROBE = re.compile(r"^\.write-test-[0-9a-f]{32}$")  # `RunDir._make_writable`'s, for an instant
# Every entry of a run folder gen writes, itself or through a tracker.
WRITTEN = ("run.json", "spec.json", "metrics.jsonl", ".lock", "checkpoints", "samples",
           "tensorboard", "mlruns", "wandb")


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def spec_path(self) -> Path:
        return self.root / "spec.json"

    @property
    def info_path(self) -> Path:
        return self.root / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def lock_path(self) -> Path:
        return self.root / ".lock"

    def sample_path(self, step: int) -> Path:
        return self.samples / f"step-{step:06d}.png"

    def step_checkpoints(self) -> dict[int, Path]:
        """Step-numbered checkpoints, oldest first."""
        return _by_step(self.checkpoints, STEP_FILE)

    def sample_grids(self) -> dict[int, Path]:
        """The sample grids training wrote, oldest first."""
        return _by_step(self.samples, GRID_FILE)

    def has_checkpoints(self) -> bool:
        """A run with any checkpoint is never started over; one that died before its first has
        nothing to lose."""
        return (self.checkpoints / "latest.pt").is_file() or bool(self.step_checkpoints())

    # --- ownership ---------------------------------------------------------------------------

    def is_run(self) -> bool:
        """Whether run.json marks this folder as a gen run (runs of gen 0.1 carry no format
        key, but their run.json names the model and gen's version)."""
        try:
            info = json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return False
        return isinstance(info, dict) and (
            isinstance(info.get(MARKER), int) or {"model", "gen_version"} <= info.keys()
        )

    def require_run(self) -> None:
        """For readers: the folder is a gen run with a spec, else a `CheckpointError`."""
        if not self.root.is_dir():
            raise CheckpointError(f"run directory {self.root} does not exist")
        if not self.is_run():
            raise CheckpointError(f"{self.root} is not a gen run directory (no gen run.json in it)")
        if not self.spec_path.is_file():
            raise CheckpointError(f"{self.root} is a gen run without spec.json: it died before "
                                  "it started; train it again")

    def check_target(self, resume: bool) -> None:
        """For writers, before any work: may a run be started (or, with ``resume``, continued)
        here? Reads only; `claim` checks again under the lock. A held lock is named first, run
        or not: a writer that has just claimed a new folder has no run.json yet."""
        if self.root.exists() and not self.root.is_dir():
            raise FolderError(f"--out {self.root} is a file, not a folder. Choose another with "
                              "--out.")
        if self.root.is_dir():
            self.check_links()
            RunLock(self.lock_path).check_free()  # the writer's pid says more than its files
        self._check_contents(resume)

    def check_links(self) -> None:
        """Refuse a run in which an entry gen writes (`WRITTEN`) is a symbolic link."""
        if self.root.is_dir():
            for name in WRITTEN:
                refuse_link(self.root / name)

    def _check_contents(self, resume: bool) -> None:
        if resume:
            self.require_run()
            if not self.has_checkpoints():
                raise CheckpointError(f"{self.root} has no checkpoint to resume from: it died "
                                      "before its first; start it again without --resume")
            return
        if self.is_run():
            if self.has_checkpoints():
                raise GenError(f"{self.root} already holds a run: pass --resume to continue it, "
                               "or --out to start a new one elsewhere")
            return
        foreign = self._foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                              if len(foreign) > 5 else "")
            raise FolderError(
                f"--out {self.root} is not empty and not a gen run (it holds {shown}); gen "
                "writes only into a new or empty folder or a gen run. Choose another --out."
            )

    def _foreign_entries(self) -> list[str]:
        """What is not gen's: its lock, and the probe and run.json of a writer claiming the
        folder at this instant, are not."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p != self.lock_path and not _PROBE.match(p.name)
                      and not ((m := _TEMP.match(p.name)) and m["name"] == "run"))

    def checkpoint_files(self) -> list[tuple[str, int, int, int]]:
        """Name, inode, size and mtime of every checkpoint file: equal lists, same checkpoints."""
        files = []
        for path in [self.checkpoints / "latest.pt", *self.step_checkpoints().values()]:
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            files.append((path.name, st.st_ino, st.st_size, st.st_mtime_ns))
        return files

    def claim(self, resume: bool, identity: dict[str, Any],
              seen: list[tuple[str, int, int, int]] | None = None) -> RunLock:
        """Make the folder this process's run: create it, take its lock, check it again (another
        writer may have come and gone; with ``seen``, the checkpoints must be the ones read
        before), mark it as a gen run (run.json before anything else), create its sub-folders
        and remove temp files a killed writer left. Returns the held lock."""
        self.check_target(resume)
        self._make_writable(self.root)
        new_lock = not self.lock_path.exists()
        lock = RunLock(self.lock_path).acquire()
        try:
            try:
                self._check_contents(resume)
            except FolderError:  # files appeared meanwhile: leave the folder as it was
                if new_lock:
                    self.lock_path.unlink(missing_ok=True)
                raise
            if seen is not None and self.checkpoint_files() != seen:
                raise RunLockedError(f"{self.root} was trained by another gen process while this "
                                     "one was starting; run the command again")
            if not self.is_run():
                self.write_info(identity)
            for folder in (self.checkpoints, self.samples):
                self._make_writable(folder)
            self._remove_orphans()
        except BaseException:
            lock.release()
            raise
        return lock

    def _remove_orphans(self) -> None:
        for folder in (self.root, self.checkpoints, self.samples):
            for path in folder.iterdir():
                m = _TEMP.match(path.name)
                if m and (_WRITER_FILES.match(m["name"]) or not _alive(int(m["pid"]))):
                    path.unlink(missing_ok=True)

    def _make_writable(self, folder: Path) -> None:
        """Create ``folder`` and prove it writable, so a bad --out fails in a second, not at
        the first checkpoint an hour later."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".write-test-{uuid.uuid4().hex}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            where = "" if folder == self.root else f" (in {folder.name}/)"
            raise GenError(
                f"cannot write to run directory {self.root}: {exc.strerror or exc}{where}. "
                "Choose another with --out."
            ) from None

    # --- files -------------------------------------------------------------------------------

    def write_info(self, info: dict[str, Any]) -> None:
        """run.json, always with the format marker first."""
        self.write_json(self.info_path, {MARKER: RUN_FORMAT, **info})

    def read_info(self) -> dict[str, Any]:
        return self._read_json(self.info_path)

    def read_spec(self) -> dict[str, Any]:
        self.require_run()
        return self._read_json(self.spec_path)

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")

    def _read_json(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or not UTF-8
            raise CheckpointError(f"cannot read {path}: {exc}") from None
        except RecursionError:
            raise CheckpointError(f"cannot read {path}: JSON nested too deeply") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
        return data


def refuse_link(path: Path) -> None:
    """A `GenError` if ``path`` is a symbolic link: gen writes nothing through one inside a run,
    where it could reach any file (``samples -> ../victim``, ``metrics.jsonl -> notes.txt``)."""
    if path.is_symlink():
        try:
            target = f" (to {os.readlink(path)})"
        except OSError:
            target = ""
        raise GenError(f"{path} is a symbolic link{target}: gen writes nothing through a link "
                       "inside a run, which could reach files outside it; replace it with the "
                       "file or folder itself")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (when unsure, yes: the file stays)."""
    if sys.platform == "win32":  # os.kill would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours, or no such call here
        return True
    return True


def _by_step(folder: Path, pattern: re.Pattern) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    found = {int(m.group(1)): p for p in folder.iterdir() if (m := pattern.match(p.name))}
    return dict(sorted(found.items()))


def default_out(model: str, dataset: str) -> Path:
    return Path("runs") / f"{model}-{dataset}"
