"""The layout of a run directory, so every command agrees on where things are.

    RUN/spec.json              the resolved spec (valid input to `gen train --spec`)
    RUN/run.json               model, plugin and versions, data shape
    RUN/checkpoints/           step-NNNNNN.pt, latest.pt (and best.pt with train.eval_every)
    RUN/samples/               step-NNNNNN.png grids
    RUN/metrics.jsonl          one JSON object per logged step
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gen.errors import CheckpointError, GenError
from gen.fileio import atomic_write_text


@dataclass(frozen=True)
class RunDir:
    root: Path

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
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    def has_checkpoint(self) -> bool:
        """A run with a checkpoint is never overwritten; one that died before its first
        checkpoint has nothing to lose and may be started again."""
        return (self.checkpoints / "latest.pt").is_file()

    def prepare(self) -> None:
        """Create the folders and prove each is writable before any training starts, so a bad
        --out fails in a second, not at the first checkpoint an hour later."""
        if self.root.exists() and not self.root.is_dir():
            raise GenError(f"--out {self.root} is a file, not a folder. Choose another with --out.")
        folder = self.root
        try:
            for folder in (self.root, self.checkpoints, self.samples):
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

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")

    def read_spec(self) -> dict[str, Any]:
        if not self.root.is_dir():
            raise CheckpointError(f"run directory {self.root} does not exist")
        if not self.spec_path.is_file():
            raise CheckpointError(
                f"{self.root} is not a gen run directory (no spec.json in it)"
            )
        try:
            return json.loads(self.spec_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read {self.spec_path}: {exc}") from None

    def sample_path(self, step: int) -> Path:
        return self.samples / f"step-{step:06d}.png"


def default_out(model: str, dataset: str) -> Path:
    return Path("runs") / f"{model}-{dataset}"
