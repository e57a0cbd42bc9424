"""Checkpoint files: everything needed to continue a run bit for bit, and nothing that can
execute.

A checkpoint is a dict of tensors and plain Python values saved with `torch.save` and loaded
with ``torch.load(weights_only=True)``, which refuses pickled objects. It holds every module and
optimizer, the step, the spec the run was trained with, the data stream's position and every
RNG state. ``step-NNNNNN.pt`` is written first, then ``latest.pt`` is pointed at it: a kill in
between leaves a complete step file, from which the run resumes.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import shlex
import zipfile
from pathlib import Path
from typing import Any

import torch

from gen.errors import CheckpointError, UsageError, WriteError
from gen.fileio import atomic_link, atomic_write
from gen.run.layout import RunDir

FORMAT = 1
# The types of what the trainer saves, checked on load so a damaged or hand-made file is an
# error naming the field, not a failure deep inside the code that reads it.
_FIELD_TYPES = {"model": str, "spec": dict, "data_info": dict, "state": dict, "runtime": dict,
                "data": dict, "rng": dict, "rng_ranks": list, "best": dict, "schedules": dict}


def save_checkpoint(run: RunDir, step: int, payload: dict[str, Any], keep: int | None) -> Path:
    """Write ``step-NNNNNN.pt`` atomically, point ``latest.pt`` at it, prune old ones. A failed
    write (a full disk) leaves ``latest.pt`` as it was and says so."""
    path = run.checkpoints / f"step-{step:06d}.pt"
    latest = run.checkpoints / "latest.pt"
    try:
        atomic_write(path, lambda tmp: _torch_save({"format": FORMAT, "step": step, **payload},
                                                   tmp))
        atomic_link(path, latest)
    except WriteError as exc:
        fix = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "fix that"
        raise CheckpointError(f"{exc}. {_kept(run, payload.get('model', 'MODEL'), fix)}"
                              ) from exc
    if keep is not None:
        for old_step, old in list(run.step_checkpoints().items())[:-keep]:
            if old_step != step:
                old.unlink(missing_ok=True)
    return path


def find_checkpoint(run: RunDir, which: str = "latest") -> Path:
    """``latest``, ``best`` or a step number -> the checkpoint file, with a clear error if
    absent. Without ``latest.pt`` (a kill before it was first written) ``latest`` is the newest
    step file."""
    steps = run.step_checkpoints()
    if which == "latest":
        path = run.checkpoints / "latest.pt"
        if not path.is_file() and steps:
            path = steps[max(steps)]
    elif which == "best":
        path = run.checkpoints / "best.pt"
    else:
        try:
            path = steps.get(int(which))
        except ValueError:
            raise UsageError(
                f"--checkpoint must be 'best', 'latest' or a step number, got {which!r}"
            ) from None
    if path is None or not path.is_file():
        listed = ", ".join(str(s) for s in steps) or "none"
        hint = " (best.pt is kept by runs trained with train.eval_every)" if which == "best" else ""
        raise CheckpointError(
            f"no checkpoint {which!r} in {run.checkpoints} (step checkpoints: {listed}){hint}"
        )
    return path


def resume_checkpoint(run: RunDir, map_location: Any = "cpu") -> tuple[dict[str, Any], str | None]:
    """The checkpoint a run resumes from, and a note when it is not ``latest.pt``.

    ``latest.pt`` when it exists (a damaged one is an error: nothing is guessed). Without it,
    the newest step file that loads; unreadable newer ones are skipped and named in the note."""
    latest = run.checkpoints / "latest.pt"
    if latest.is_file():
        return load_checkpoint(latest, map_location), None
    skipped = []
    for path in reversed(list(run.step_checkpoints().values())):
        try:
            ckpt = load_checkpoint(path, map_location)
        except CheckpointError as exc:
            skipped.append(f"{path.name} ({str(exc).removeprefix(f'{path}: ')})")
            continue
        note = f"{latest} is missing: resuming from {path.name}, the newest step checkpoint"
        if skipped:
            note += " that loads; skipped " + "; ".join(skipped)
        return ckpt, note
    raise CheckpointError(f"no readable checkpoint in {run.checkpoints} to resume from"
                          + (f"; skipped {'; '.join(skipped)}" if skipped else ""))


def save_best(run: RunDir, payload: dict[str, Any], best: dict[str, Any]) -> Path:
    """Write ``best.pt``: a full checkpoint (``payload``) plus ``best``, the score that made it
    the best (metric, value, step, ...). A file of its own, so pruning never removes it."""
    path = run.checkpoints / "best.pt"
    step = best["step"]
    return atomic_write(
        path, lambda tmp: _torch_save({"format": FORMAT, "step": step, **payload, "best": best},
                                      tmp)
    )


def best_until(run: RunDir, step: int) -> dict[str, Any] | None:
    """The score kept in ``best.pt`` if it was reached by ``step`` (the step a run resumes
    from); None without one, or when it is from later steps, which are trained and scored
    again (the trainer then deletes it once it owns the folder)."""
    path = run.checkpoints / "best.pt"
    if not path.is_file():
        return None
    best = load_checkpoint(path).get("best")
    return best if isinstance(best, dict) and best.get("step", step + 1) <= step else None


def _torch_save(obj: Any, path: Path) -> None:
    """`torch.save` through a Python file, so a failed write (a full disk) surfaces as the
    `OSError` it is: torch wraps it in a RuntimeError, or, given a path, loses the errno."""
    with open(path, "wb") as f:
        try:
            torch.save(obj, f)
        except RuntimeError as exc:
            if isinstance(exc.__context__, OSError):
                raise exc.__context__ from None
            raise


def _kept(run: RunDir, model: str, fix: str) -> str:
    """What a failed save left (which step ``latest.pt`` still holds, when that is cheap to
    tell: it is a hard link to a step file) and how to go on: ``--resume`` only when there is
    a checkpoint to resume from, else training again from the run's spec.json."""
    root = shlex.quote(str(run.root))
    if not run.has_checkpoints():
        return (f"no checkpoint was written before, so there is nothing to resume; {fix}, then "
                f"train it again with `gen train {model} --spec "
                f"{shlex.quote(str(run.spec_path))} --out {root}`")
    if not (run.checkpoints / "latest.pt").is_file():
        kept = "the step checkpoints written before are kept"
    else:
        step = linked_step(run)
        kept = ("latest.pt is kept as it was" if step is None
                else f"latest.pt is kept and still holds step {step}")
    return f"{kept}; {fix}, then continue with `gen train {model} --out {root} --resume`"


def linked_step(run: RunDir) -> int | None:
    """The step of the step file ``latest.pt`` is a hard link to (None when it is a copy)."""
    latest = run.checkpoints / "latest.pt"
    for step, path in reversed(run.step_checkpoints().items()):
        try:
            if os.path.samefile(path, latest):
                return step
        except OSError:
            continue
    return None


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely; a truncated, corrupt or code-carrying file is a CheckpointError.

    `torch.save` writes a zip archive with a checksum per member, and torch does not check them,
    so damage is found here before unpickling (which would blame bad bytes on forbidden
    objects, or load wrong numbers)."""
    try:
        with open(path, "rb") as f:
            damaged = _damage(f)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if damaged:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt: "
                              f"{damaged})")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch names the callable the file would run: "Unsupported global: GLOBAL x.y" or
        # "unsupported GLOBAL posix.system whose module posix is blocked".
        forbidden = re.search(r"unsupported (?:global: )?GLOBAL (\S+)", str(exc), re.IGNORECASE)
        if forbidden is None:
            raise CheckpointError(f"{path}: not a readable checkpoint (corrupt?)") from None
        raise CheckpointError(
            f"{path}: refused to load: it holds code ({forbidden.group(1)}), not only tensors "
            "and plain values; nothing in it was run"
        ) from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, ... on bad bytes
        reason = str(exc).split(". ")[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated or corrupt?): {reason}"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a gen checkpoint (format {FORMAT})")
    step = ckpt.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{path}: not a usable gen checkpoint: 'step' must be a whole "
                              f"number >= 0, got {step!r}")
    for key, kind in _FIELD_TYPES.items():
        if key in ckpt and not isinstance(ckpt[key], kind):
            raise CheckpointError(f"{path}: not a usable gen checkpoint: {key!r} must be a "
                                  f"{kind.__name__}, got {type(ckpt[key]).__name__}")
    return ckpt


def _damage(f) -> str | None:
    """Why the open file ``f`` is not an intact zip archive, or None when it is."""
    size = os.fstat(f.fileno()).st_size
    if not zipfile.is_zipfile(f):
        return f"{size} bytes, not the zip archive torch.save writes"
    try:
        bad = zipfile.ZipFile(f).testzip()
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        return str(exc)
    return None if bad is None else f"{bad} fails its checksum"
