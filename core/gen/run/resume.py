"""What a resumed run may change: the spec it continues with, compared field by field with the
spec its checkpoint was trained with (which the checkpoint carries).

Only length and cadence (`gen.specs.RESUMABLE_OVERRIDES`) may change; anything else would
train on other data or with other maths while spec.json and the checkpoint claim the new
values. ``train.out`` is not compared: a run folder may be moved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gen import specs
from gen.errors import CheckpointError, SpecError
from gen.run.checkpoints import resume_checkpoint
from gen.run.layout import RunDir

_NOT_COMPARED = ("train.out",)
_ABSENT = object()


def resume_point(run: RunDir, spec: specs.RunSpec) -> tuple[dict[str, Any], str | None]:
    """The checkpoint ``run`` continues from (and a note when it is not latest.pt), checked
    against the model and ``spec`` before anything is trained or written."""
    ckpt, note = resume_checkpoint(run)
    if ckpt.get("model") != spec.model.name:
        raise CheckpointError(f"the checkpoint in {run.checkpoints} is of model "
                              f"{ckpt.get('model')!r}, not {spec.model.name!r}")
    step = ckpt.get("step")
    if not isinstance(step, int) or step < 0:
        raise CheckpointError(f"the checkpoint in {run.checkpoints} has no valid step "
                              f"(got {step!r})")
    check_resume(spec, ckpt.get("spec"), step, run.spec_path)
    return ckpt, note


def check_resume(spec: specs.RunSpec, trained: Any, step: int, spec_file: Path) -> None:
    """Raise a `SpecError` naming every field of ``spec`` that differs from ``trained`` (the
    checkpoint's spec) and may not change, and when ``train.steps`` is below ``step``."""
    if not isinstance(trained, dict):
        raise CheckpointError(f"the checkpoint at step {step} does not carry the spec it was "
                              "trained with; it cannot be resumed safely")
    problems = spec_differences(spec, trained, step)
    if problems:
        allowed = ", ".join(specs.RESUMABLE_OVERRIDES)
        problems.append(("", f"only {allowed} may change on --resume: put the trained values "
                             "back, or train a new run with another --out"))
        raise SpecError(problems, str(spec_file))
    if spec.train.steps < step:
        raise SpecError([("train.steps", f"{spec.train.steps} is below the step reached: the "
                                         f"run is already at step {step}")], str(spec_file))


def spec_differences(spec: specs.RunSpec, trained: dict[str, Any],
                     step: int) -> list[tuple[str, str]]:
    """(field, what differs) for every field of ``spec`` (spec.json) that differs from
    ``trained`` (the spec a checkpoint carries) and may not change after training started."""
    try:
        before = specs.validate(type(spec.model), trained).model_dump(mode="json")
    except SpecError as exc:
        raise CheckpointError(f"the spec in the checkpoint at step {step} no longer validates "
                              f"with this version of {spec.model.name!r}: {exc}") from None
    now, was = _flatten(spec.model_dump(mode="json")), _flatten(before)
    changed = [k for k in sorted(now.keys() | was.keys())
               if now.get(k, _ABSENT) != was.get(k, _ABSENT)
               and k not in specs.RESUMABLE_OVERRIDES and k not in _NOT_COMPARED]
    return [(k, f"is {_show(now.get(k, _ABSENT))} in spec.json, but the run was trained with "
                f"{_show(was.get(k, _ABSENT))}") for k in changed]


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def _show(value: Any) -> str:
    return "absent" if value is _ABSENT else json.dumps(value)
