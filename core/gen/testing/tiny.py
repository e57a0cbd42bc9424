"""Tiny CPU runs for the conformance kit and for plugins' own tests: a spec small enough to
train in seconds, a run of it, a freshly built model with its batch stream, and the comparison
of two runs' training state that every resume test makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gen import specs
from gen.errors import SpecError
from gen.registry import ModelInfo

# A run small enough for a CPU test: a few steps on a slice of the bundled data.
TINY_BASE = {
    "data.limit": 64,
    "train.steps": 2,
    "train.batch_size": 8,
    "train.device": "cpu",
    "train.log_every": 1,
    "train.sample_every": 1,
    "train.checkpoint_every": 1,
    "train.num_samples": 4,
}


def tiny_spec(info: ModelInfo, tiny: dict[str, Any], **more: Any) -> specs.RunSpec:
    """The spec of a tiny CPU run: `TINY_BASE`, then the plugin's ``tiny``, then ``more``."""
    merged = {**TINY_BASE, **tiny, **{k.replace("__", "."): v for k, v in more.items()}}
    overrides = [f"{k}={json.dumps(v)}" for k, v in merged.items()]
    try:
        return specs.validate(info.spec_class(), {}, overrides)
    except SpecError as exc:  # say which fields lack the default every field needs
        problems = [(path, f"{message}: every field of a spec class needs a default (the "
                     "paper's value)" if message.startswith("Field required") else message)
                    for path, message in exc.problems]
        raise SpecError(problems, "the kit's tiny spec: TINY_BASE, then tiny") from None


def train_tiny(info: ModelInfo, spec: specs.RunSpec, out: Path, resume: bool = False):
    from gen.run.layout import RunDir
    from gen.training.loop import Trainer

    return Trainer(info, spec, RunDir(out), show_progress=False).train(resume=resume)


def assert_same_training_state(a: Path, b: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Checkpoints ``a`` and ``b`` hold bit-identical weights of every module, the same weight
    average (when one is kept) and the same scheduler states; returns both, loaded."""
    import torch

    from gen.run.checkpoints import load_checkpoint

    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert ca["step"] == cb["step"], f"the checkpoints are of steps {ca['step']}, {cb['step']}"
    for part in ("modules", "average"):
        flat_a, flat_b = _tensors(ca["state"].get(part)), _tensors(cb["state"].get(part))
        assert flat_a.keys() == flat_b.keys(), (
            f"{part} holds other tensors after resume: {sorted(flat_a.keys() ^ flat_b.keys())}")
        for key, tensor in flat_b.items():
            assert torch.equal(flat_a[key], tensor), f"{part}.{key} {RESUME_DIFFERS}"
    assert ca.get("schedules") == cb.get("schedules"), (
        f"the learning-rate schedules differ after resume: {RESUME_DIFFERS}")
    return ca, cb


RESUME_DIFFERS = (
    "differs between the resumed run and the uninterrupted one. Likely causes: state kept "
    "outside self.modules and self.optimizers (a step counter or a tensor in a plain "
    "attribute, a module not in self.modules) starts afresh on resume; randomness in "
    "train_step drawn from elsewhere than torch's global RNG (random, numpy, a "
    "torch.Generator of the model's own) is not restored")


def _tensors(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor in nested dicts, by dotted key."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_tensors(value, f"{prefix}{key}."))
        return out
    return {} if tree is None else {prefix.rstrip("."): tree}


def tiny_model(info: ModelInfo, tiny: dict[str, Any]):
    """A freshly built tiny model on the CPU and a batch stream over its tiny data."""
    from gen.data.datasets import load_dataset
    from gen.data.loader import BatchStream
    from gen.seeding import seed_everything
    from gen.training.loop import build_model

    spec = tiny_spec(info, tiny)
    seed_everything(spec.train.seed)
    data = load_dataset(spec.data)
    model = build_model(info, spec, data.info).to("cpu")
    return model, BatchStream(data, spec.train.batch_size, spec.train.seed, model.device)
