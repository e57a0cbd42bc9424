"""What the parts of a running sweep share: the study, the folder, the space and the score,
and the flags that stop it. Data only: `gen.sweep.scheduler` hands trials out,
`gen.sweep.trials` runs them."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gen.sweep.folder import SweepDir
from gen.sweep.space import Param


@dataclass
class Sweep:
    """A sweep in progress in this process."""

    optuna: Any  # the module, imported once it is known to be installed
    study: Any  # optuna.Study
    folder: SweepDir
    id: str  # sweep.json's id, carried by every trial this folder runs
    model: str  # as named to gen sweep (PLUGIN:NAME where two plugins register it)
    spec_class: type
    fixed: dict[str, Any]  # the fixed part of every trial's spec, raw
    base: dict[str, Any]  # the fixed spec, validated and complete
    params: list[Param]
    metric: str
    direction: str  # "minimize" or "maximize"
    trials: int
    jobs: int
    say: Callable[[str], None]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stop: threading.Event = field(default_factory=threading.Event)
    # the trials' `gen train` processes running now: none may outlive the sweep
    running: set[subprocess.Popen] = field(default_factory=set)
    exhausted: bool = False  # the sampler ended the study (a grid searched through)
