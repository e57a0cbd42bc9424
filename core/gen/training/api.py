"""`gen.train`: the one way into training; `gen train` on the command line calls it too.

Importing this module is cheap (no torch), so the CLI can load it for `gen train --help`.
`prepare` resolves everything a run needs before any work (the family, the validated spec, the
run folder, and whether gen may write there), so a mistake is reported in a second and, for
`gen train --nproc`, once rather than by every process.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gen import specs
from gen.arguments import flag, text
from gen.errors import SpecError, UsageError
from gen.paths import user_path
from gen.plugins import get_plugins
from gen.registry import ModelInfo, split_name
from gen.run.layout import RunDir, default_out
from gen.spec_json import load_json, parse_override

if TYPE_CHECKING:
    from gen.handle import Run

SpecInput = specs.RunSpec | Mapping[str, Any] | str | Path | None
Overrides = Mapping[str, Any] | Sequence[str] | None


def train(name: str, spec: SpecInput = None, overrides: Overrides = None,
          out: str | Path | None = None, resume: bool = False, progress: bool = True) -> Run:
    """Train model ``name`` and return its `Run`. Where two plugins register the same name,
    ``name`` picks one as ``PLUGIN:MODEL`` (``"gen-gan:dcgan"``).

    ``spec`` is a dict, a JSON file's path or a `gen.RunSpec` (default: the model's defaults);
    ``overrides`` are ``--set`` pairs, e.g. ``{"train.steps": 200}``. ``out`` is the run folder
    (default ``train.out``, else ``runs/<model>-<dataset>``): it must be missing, empty or a gen
    run. ``resume=True`` continues the run in ``out`` from its latest checkpoint (no ``spec``;
    only length and cadence may be overridden). Ctrl-C stops after the step in flight and
    writes a checkpoint; the returned run's ``step`` then says where it stopped.
    """
    flag(progress, "progress")
    from gen.handle import Run  # imports torch
    from gen.training.loop import Trainer

    info, run_spec, root = prepare(name, spec, overrides, out, resume)
    Trainer(info, run_spec, RunDir(root), show_progress=progress).train(resume)
    return Run(root)


def prepare(name: str, spec: SpecInput = None, overrides: Overrides = None,
            out: str | Path | None = None,
            resume: bool = False) -> tuple[ModelInfo, specs.RunSpec, Path]:
    """The model, its validated spec and the run folder, checked before any work. A resumed
    run continues through the plugin that trained it."""
    text(name, "name", "a model's name (`gen list-models`)")
    flag(resume, "resume")
    pairs = _override_strings(overrides)
    if resume:
        return _prepare_resume(name, spec, pairs, out)
    info = get_plugins().registry.get(name)
    raw, source = _raw_spec(spec)
    validated = specs.validate(info.spec_class(), raw, pairs, source=source)
    root = (user_path(out, "out") if out is not None
            else user_path(validated.train.out, "train.out") if validated.train.out is not None
            else Path(default_out(info.name, validated.data.dataset)))
    RunDir(root).check_target(resume=False)
    return info, validated, root


def _prepare_resume(name: str, spec: SpecInput, pairs: list[str],
                    out: str | Path | None) -> tuple[ModelInfo, specs.RunSpec, Path]:
    if spec is not None:
        raise UsageError("--spec cannot be combined with --resume: a resumed run keeps the "
                         "spec in its run directory")
    if out is None:
        raise UsageError("--resume needs --out RUN_DIR, the run to continue")
    keys = [".".join(parse_override(p)[0]) for p in pairs]
    fixed = [k for k in keys if k not in specs.RESUMABLE_OVERRIDES]
    if fixed:
        allowed = ", ".join(specs.RESUMABLE_OVERRIDES)
        raise SpecError([(k, f"cannot change on --resume (only {allowed})") for k in fixed])
    run = RunDir(user_path(out, "out"))
    run.check_target(resume=True)
    info = _trained_model(run, name)
    validated = specs.validate(info.spec_class(), run.read_spec(), pairs,
                               source=str(run.spec_path))
    return info, validated, run.root


def _trained_model(run: RunDir, name: str) -> ModelInfo:
    """The model ``run`` was trained with, from the plugin its run.json records: ``name``
    (bare, or ``PLUGIN:MODEL``) must name that model and may not pick another plugin's."""
    recorded = run.read_info()
    model, plugin = recorded.get("model"), recorded.get("plugin")
    asked_plugin, bare = split_name(name)
    if isinstance(model, str) and bare != model:
        raise UsageError(f"{run.root} is a run of model {model!r}, not {bare!r}: continue it "
                         f"with `gen train {model} --out {shlex.quote(str(run.root))} --resume`")
    if not isinstance(plugin, str):  # a run.json from before gen recorded the plugin
        return get_plugins().registry.get(name)
    if asked_plugin is not None and asked_plugin != plugin:
        raise UsageError(f"{run.root} was trained with model {bare!r} of plugin {plugin!r}, "
                         f"not of {asked_plugin!r}: a run continues with the plugin that "
                         f"trained it (`gen train {bare} --out {shlex.quote(str(run.root))} "
                         "--resume`)")
    return get_plugins().registry.get_trained(bare, plugin, run.root)


def _raw_spec(spec: SpecInput) -> tuple[dict[str, Any], str | None]:
    if spec is None:
        return {}, None
    if isinstance(spec, specs.RunSpec):
        return spec.model_dump(mode="json"), None
    if isinstance(spec, str | Path):
        return load_json(user_path(spec, "spec")), str(spec)
    if not isinstance(spec, Mapping):
        raise UsageError(f"spec: expected a dict, a JSON file's path or a gen.RunSpec, got "
                         f"{type(spec).__name__}")
    return dict(spec), None


def _override_strings(overrides: Overrides) -> list[str]:
    """``--set`` strings; a mapping's values are taken as they are (JSON-encoded here, so the
    one parser reads both; a value JSON has no type for, a Path say, becomes its text)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value, default=str)}" for key, value in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    pairs = list(overrides) if isinstance(overrides, Iterable) and not isinstance(
        overrides, bytes) else None
    if pairs is None or not all(isinstance(o, str) for o in pairs):
        raise UsageError("overrides: expected a dict of field: value or KEY=VALUE strings, "
                         f"got {overrides!r:.60}")
    return pairs
