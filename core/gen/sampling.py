"""Rebuild the model of any run from its directory and draw samples from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gen import specs
from gen.data.info import DataInfo
from gen.errors import CheckpointError, GenError
from gen.model import Model
from gen.plugins import Plugins
from gen.training.checkpoint import find_checkpoint, load_checkpoint
from gen.training.loop import resolve_device
from gen.training.rundir import RunDir


@dataclass
class LoadedRun:
    model: Model
    spec: specs.RunSpec
    step: int
    checkpoint: Path | None  # None for a model evaluated in training


def load_run(
    plugins: Plugins, run_dir: Path, checkpoint: str = "latest", device: str = "auto"
) -> LoadedRun:
    """The model of ``run_dir`` with the weights of ``checkpoint`` (``latest``, ``best`` or a
    step)."""
    run = RunDir(Path(run_dir))
    raw = run.read_spec()
    name = raw.get("model", {}).get("name") if isinstance(raw.get("model"), dict) else None
    if not isinstance(name, str):
        raise CheckpointError(f"{run.spec_path}: no model.name in it")
    info = plugins.registry.get(name)
    spec = specs.validate(info.spec_class(), raw, source=str(run.spec_path))
    path = find_checkpoint(run, checkpoint)
    target = resolve_device(device)
    ckpt = load_checkpoint(path, map_location=target)
    if ckpt.get("model") != name:
        raise CheckpointError(f"{path} is a checkpoint of {ckpt.get('model')!r}, not {name!r}")
    model = _build(info.model_class(), spec, ckpt, path).to(target)
    model.train(False)
    return LoadedRun(model, spec, int(ckpt["step"]), path)


def _build(cls: type[Model], spec: specs.RunSpec, ckpt: dict[str, Any], path: Path) -> Model:
    try:
        model = cls(spec.model, DataInfo(**ckpt["data_info"]))
        model.load_state_dict(ckpt["state"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path} does not fit model {spec.model.name!r}: {exc}") from None
    return model


def draw(
    loaded: LoadedRun, n: int, seed: int, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` samples (and their labels, for a conditional model) from a fixed-seed generator:
    the same seed gives the same images. Without ``labels`` a conditional model cycles through
    its classes."""
    model = loaded.model
    if model.conditional and labels is None:
        labels = torch.arange(n, device=model.device) % model.data.num_classes
    g = torch.Generator(device=model.device).manual_seed(seed)
    return model.sample(n, labels=labels, generator=g), labels


def parse_labels(text: str, model: Model, n: int) -> tuple[torch.Tensor, int | None]:
    """``--labels`` -> (labels for ``n`` images, images per grid row).

    ``all`` gives one row per class (``n // classes`` images each, at least one); a list such as
    ``3,5`` is repeated to fill ``n`` images."""
    if not model.conditional:
        raise GenError(f"--labels needs a conditional model; {model.spec.name!r} is not one")
    classes = model.data.num_classes
    if text.strip() == "all":
        per_row = max(1, n // classes)
        labels = torch.arange(classes).repeat_interleave(per_row)
        return labels.to(model.device), per_row
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise GenError(f"--labels must be 'all' or integers like 0,3,7; got {text!r}") from None
    bad = [v for v in values if not 0 <= v < classes]
    if bad:
        raise GenError(
            f"--labels: {bad[0]} is out of range; {model.spec.name!r} has classes 0..{classes - 1}"
        )
    labels = torch.tensor(values).repeat(-(-n // len(values)))[:n]
    return labels.to(model.device), None
