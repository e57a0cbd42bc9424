"""What a sweep gives back: its trials ranked, and the best one's parameters, value and run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A trial's state as gen shows it: Optuna's COMPLETE, PRUNED, FAIL, RUNNING, WAITING.
ORDER = ("complete", "pruned", "failed", "running", "waiting")


@dataclass(frozen=True)
class Best:
    number: int
    value: float
    params: dict[str, Any]
    run: Path


@dataclass
class SweepResult:
    """The study (an ``optuna.Study``) and the folder of a sweep; ``interrupted`` where it was
    stopped (Ctrl-C, SIGTERM) before the study had all its trials."""

    study: Any
    folder: Path
    metric: str
    direction: str
    interrupted: bool = False

    def trials(self) -> list[Any]:
        """The study's trials, best first (`ranked`)."""
        return ranked(self.study.get_trials(deepcopy=False), self.direction)

    @property
    def best(self) -> Best | None:
        """The best complete trial, or None before one completes."""
        top = self.trials()
        if not top or state(top[0]) != "complete":
            return None
        return Best(top[0].number, top[0].value, dict(top[0].params),
                    self.folder / top[0].user_attrs.get("run", f"trial-{top[0].number:04d}"))

    def counts(self) -> dict[str, int]:
        found = [state(t) for t in self.trials()]
        return {s: found.count(s) for s in ORDER if s in found}


def state(trial: Any) -> str:
    name = trial.state.name.lower()
    return "failed" if name == "fail" else name


def ranked(trials: list[Any], direction: str) -> list[Any]:
    """Complete trials best first, then pruned ones (by the last score they reported), then
    failed and running ones by number. Surplus trials (closed at once when processes sharing
    the study asked for one too many) are left out."""
    sign = -1.0 if direction == "maximize" else 1.0

    def key(t: Any) -> tuple:
        value = t.value if state(t) == "complete" else last_score(t)
        order = ORDER.index(state(t)) if state(t) in ORDER else len(ORDER)
        finite = value is not None and math.isfinite(value)
        return (order, not finite, sign * value if finite else 0.0, t.number)

    return sorted((t for t in trials if not t.user_attrs.get("surplus")), key=key)


def last_score(trial: Any) -> float | None:
    """The last intermediate score a trial reported (a pruned trial's value)."""
    values = trial.intermediate_values
    return values[max(values)] if values else None
