"""Training-health rules: warnings while a run goes wrong, before it has wasted its budget.

A `HealthMonitor` reads what the run logs anyway (each log record, each evaluation's class
coverage) and applies three rules, documented with their calibration in docs/health.md:

- ``discriminator-winning``: the discriminator rejects nearly every fake (``d_acc_fake``) for a
  window of log records while a gradient has fallen far below its early size: the generator's
  (``grad_norm/generator``; a saturating loss leaves it where the gradient is near zero, the
  failure LSGAN and WGAN were designed against) or, under the non-saturating loss that keeps
  the generator's gradient large, the discriminator's, which has nothing left to learn.
- ``mode-collapse``: the samples fall into few of the data's classes (coverage falls, or the KL
  divergence from the data's class frequencies is large), or their features spread far less
  than the real data's; not before the generator has had ``collapse_warmup`` steps (a run at
  step 40 is untrained, not collapsed).
- ``blow-up``: a loss or gradient norm jumps to many times its recent size, which usually comes
  a little before a non-finite loss stops the run.

A rule warns once when it starts to hold and again only after it has stopped holding, so a
long run's log is not flooded. Each warning is a dict: ``rule``, ``message`` and the figures
it was read from. Its advice fits the run's model: never "try wgan-gp" to a wgan-gp run, and
no adversarial objective to a model that has none.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

Warning_ = dict[str, Any]


@dataclass(frozen=True)
class HealthRules:
    """The thresholds (docs/health.md gives the figures they were calibrated on)."""

    window: int = 5  # consecutive log records a winning discriminator must hold for
    fake_rejected: float = 0.99  # d_acc_fake at or above: fakes scored as fake
    # A gradient norm below this share of its early median has vanished. The generator's
    # falls about tenfold in healthy training as the discriminator grows less sure (to 0.107
    # by step 920 of the calibration run); a saturating loss takes it orders of magnitude lower.
    vanished: tuple[tuple[str, float], ...] = (("generator", 0.01), ("discriminator", 0.1))
    early_records: int = 5  # log records that define the early gradient norm
    min_coverage: float = 0.5  # share of the data's classes that must be covered
    max_kl: float = 0.5  # nats, KL(generated classes || data classes)
    min_spread: float = 0.5  # generated feature spread / real feature spread
    # Steps before a coverage record can mean collapse: an untrained generator's samples are
    # noise that a classifier puts in few classes.
    collapse_warmup: int = 100
    blow_up: float = 100.0  # a value this many times its recent median
    blow_up_history: int = 10  # log records that define "recent"
    # Medians below this count as this: a loss going from 1e-14 to 1e-10 (a discriminator
    # that has won, at lr 0.5) is not a blow-up.
    blow_up_floor: float = 0.01


class HealthMonitor:
    """The rules over one run's records; ``model`` and ``kind`` (the registered name and
    kind) choose the advice its warnings give."""

    def __init__(self, rules: HealthRules | None = None, model: str | None = None,
                 kind: str | None = None):
        self.rules = rules or HealthRules()
        self.model, self.kind = model, kind
        self._active: set[str] = set()
        self._winning = 0  # consecutive records the discriminator-winning condition held
        self._early: list[dict[str, float]] = []  # gradient norms of the first records
        self._recent: dict[str, deque[float]] = {}
        self._best_covered: int | None = None

    def observe(self, record: dict[str, Any]) -> list[Warning_]:
        """Warnings raised by one record of metrics.jsonl: a training log line, or an
        evaluation's class coverage (``{"step": s, "coverage": {...}}``). A resumed run
        replays its log through here, so a record of any shape (a damaged line) is passed
        over, never an error."""
        coverage = record.get("coverage")
        if isinstance(coverage, dict):
            if not all(_finite(coverage.get(k)) for k in ("classes_covered", "num_classes", "kl")):
                return []
            return self._coverage(record["step"], coverage)
        if "evaluation" in record or "warning" in record or "stopped" in record:  # not a log line
            return []
        return [*self._discriminator(record), *self._blow_up(record)]

    # --- rules -------------------------------------------------------------------------------

    def _coverage(self, step: int, coverage: dict[str, Any]) -> list[Warning_]:
        r = self.rules
        covered, classes = coverage["classes_covered"], coverage["num_classes"]
        self._best_covered = max(self._best_covered or 0, covered)
        problems = []
        if step < r.collapse_warmup:
            return []
        if covered < r.min_coverage * classes:
            problems.append(f"the samples cover {covered} of {classes} classes")
        elif covered < self._best_covered:
            problems.append(f"class coverage fell from {self._best_covered} to {covered} "
                            f"of {classes}")
        if coverage["kl"] > r.max_kl:
            problems.append(f"KL from the data's class frequencies is {coverage['kl']:.2f} "
                            f"nats (> {r.max_kl})")
        spread = coverage.get("feature_spread")
        if _finite(spread) and spread < r.min_spread:
            problems.append(f"generated features spread {spread:.2g}x as widely as the real "
                            f"data's (< {r.min_spread})")
        message = ("step {step}: possible mode collapse: " + "; ".join(problems) + ". "
                   + self._advice("mode-collapse"))
        return self._state("mode-collapse", bool(problems), step, message, coverage)

    def _discriminator(self, record: dict[str, Any]) -> list[Warning_]:
        """Fakes rejected for a window, and a gradient that has vanished: the generator's
        (a saturating loss) or the discriminator's (with the non-saturating loss the
        generator's stays large; the discriminator then has nothing left to learn)."""
        rejected = record.get("d_acc_fake")
        norms = {k: record.get(f"grad_norm/{k}") for k in ("generator", "discriminator")}
        if not _finite(rejected) or not all(_finite(v) for v in norms.values()):
            return []  # not adversarial, or an fp16 step skipped for overflow
        r = self.rules
        if len(self._early) < r.early_records:
            self._early.append(norms)
            return []
        early = {k: statistics.median(e[k] for e in self._early) for k in norms}
        vanished = [k for k, share in r.vanished if norms[k] < share * early[k]]
        holds = rejected >= r.fake_rejected and bool(vanished)
        self._winning = self._winning + 1 if holds else 0
        figures = {"d_acc_fake": rejected, **{f"grad_norm/{k}": v for k, v in norms.items()},
                   **{f"early_grad_norm/{k}": v for k, v in early.items()}}
        which = vanished[0] if vanished else "generator"
        message = (f"step {{step}}: the discriminator is winning: it has rejected "
                   f"{rejected:.1%} of fakes, and the {which}'s gradient norm is "
                   f"{norms[which]:.3g} (early in training {early[which]:.3g}), for "
                   f"{self._winning} log records. " + self._advice("discriminator-winning"))
        return self._state("discriminator-winning", self._winning >= r.window, record["step"],
                           message, figures)

    def _blow_up(self, record: dict[str, Any]) -> list[Warning_]:
        r = self.rules
        jumps = {}
        for key, value in record.items():
            if not watched(key, value):
                continue
            recent = self._recent.setdefault(key, deque(maxlen=r.blow_up_history))
            # A value whose recent history changes sign is a score, not a size (a WGAN's
            # losses are critic scores): its ratio to a median says nothing.
            one_sign = all(v > 0 for v in recent) or all(v < 0 for v in recent)
            if len(recent) == recent.maxlen and one_sign:
                median = max(statistics.median(abs(v) for v in recent), r.blow_up_floor)
                if abs(value) > r.blow_up * median:
                    jumps[key] = (value, median)
            recent.append(value)
        described = "; ".join(f"{k} is {v:.3g}, {abs(v) / m:.0f}x its recent median {m:.3g}"
                              for k, (v, m) in jumps.items())
        message = (f"step {{step}}: values are blowing up ({described}); a non-finite loss "
                   "often follows. Lower the learning rate or resume from an earlier checkpoint.")
        return self._state("blow-up", bool(jumps), record["step"], message,
                           {k: v for k, (v, _) in jumps.items()})

    def _advice(self, rule: str) -> str:
        """What to try, for this run's model: other objectives than its own, and none to a
        model that is not adversarial."""
        others = [m for m in ("lsgan", "wgan-gp") if m != self.model]
        adversarial = self.kind in (None, "adversarial")
        if rule == "discriminator-winning":
            if self.model in ("wgan", "wgan-gp"):
                return ("Lower the critic's learning rate or model.n_critic, or resume from an "
                        "earlier checkpoint.")
            return (f"Lower the discriminator's learning rate, add a gradient penalty "
                    f"(model.r1_gamma), or try {' or '.join(others)}.")
        if not adversarial:
            return "Lower the learning rate, train longer, or keep best.pt."
        return f"Lower the learning rates, try {' or '.join(others)}, or keep best.pt."

    def _state(self, rule: str, holds: bool, step: int, message: str,
               figures: dict[str, Any]) -> list[Warning_]:
        """A warning when ``rule`` starts to hold; none while it goes on holding."""
        if not holds:
            self._active.discard(rule)
            return []
        if rule in self._active:
            return []
        self._active.add(rule)
        return [{"rule": rule, "message": message.format(step=step), "values": figures}]


def watched(key: str, value: Any) -> bool:
    """Gradient norms and losses (``*loss*``, ``nll``), whose size means something; not
    probabilities, throughput or named scores (a critic's ``wasserstein`` estimate)."""
    if not _finite(value):
        return False
    return key.startswith("grad_norm/") or "loss" in key or key == "nll"


def _finite(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))
