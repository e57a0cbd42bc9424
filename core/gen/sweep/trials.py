"""One trial: an ordinary `gen train` in a subprocess, watched for pruning, then scored.

Why a subprocess per trial rather than `gen.train` in the sweep's process: a trial that crashes
(a diverging learning rate, a plugin's bug, memory) fails alone and the sweep goes on; ``--jobs
J`` runs J of them at once without sharing one interpreter's threads, signals or torch state;
and a pruned trial is stopped as any run is, by SIGTERM, which `gen train` answers with a
checkpoint and a clean exit. The intermediate scores are read from the trial's metrics.jsonl
(the ``train.eval_every`` records) as they appear, so the training code needs no hook.
"""

from __future__ import annotations

import math
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gen.errors import RunLockedError, SpecError
from gen.fileio import atomic_write_text
from gen.run.layout import RunDir
from gen.run.lock import RunLock
from gen.run.metrics_log import read_metrics
from gen.sweep import space as spaces
from gen.sweep.context import Sweep

POLL_S = 0.5  # how often a running trial's metrics.jsonl is read
STOPPED = (130, -signal.SIGTERM, -signal.SIGINT)  # `gen train` stopped by a signal


@dataclass
class Claim:
    """A trial this process runs, and the lock that says so to the others."""

    trial: Any  # optuna.Trial
    lock: RunLock

    @property
    def number(self) -> int:
        return self.trial.number


def run_trial(sweep: Sweep, claim: Claim) -> None:
    """Train, watch and score one trial, then tell the study how it ended. A trial stopped
    because the sweep is (Ctrl-C, SIGTERM) stays running in the study: the next `gen sweep`
    continues it from its checkpoint."""
    op, trial, n = sweep.optuna, claim.trial, claim.number
    folder = sweep.folder
    run = RunDir(folder.run(n))
    params = {p.key: _suggest(trial, p) for p in sweep.params}
    _wait_for_writer(sweep, run)
    try:
        command, start = _train_command(sweep, n, run, params)
    except SpecError as exc:
        _fail(sweep, trial, "; ".join(f"{p}: {m}" if p else m for p, m in exc.problems))
        return
    if sweep.stop.is_set():
        return
    sweep.say(f"trial {n}: {start} -> {run.root} ({_params_text(params)})")
    watch = Watch(sweep, trial, run)
    code = _run(sweep, command, folder.log(n), watch)
    watch.poll()
    if watch.pruned_at is not None:
        trial.set_user_attr("pruned_at", watch.pruned_at)
        tell(sweep, trial, state=op.trial.TrialState.PRUNED)
        sweep.say(f"trial {n}: pruned at step {watch.pruned_at} ({sweep.metric} "
                  f"{watch.last:.4g})")
    elif sweep.stop.is_set() or code in STOPPED:
        sweep.say(f"trial {n}: stopped; it continues from its checkpoint when the sweep runs "
                  "again")
    elif code != 0:
        _fail(sweep, trial, f"gen train exited with {code}: {_last_error(folder.log(n))}")
    else:
        _score(sweep, trial, run)


def _suggest(trial: Any, p: spaces.Param) -> Any:
    """The trial's value of ``p`` (a continued trial gets back the one it was given)."""
    if p.kind == "choice":
        return trial.suggest_categorical(p.key, list(p.choices))
    if p.kind == "int":
        return trial.suggest_int(p.key, p.low, p.high, log=p.log)
    return trial.suggest_float(p.key, p.low, p.high, log=p.log)


def _train_command(sweep: Sweep, n: int, run: RunDir,
                   params: dict[str, Any]) -> tuple[list[str], str]:
    """`gen train` for trial ``n``: resumed where its folder holds a checkpoint (a trial is
    never trained from scratch twice), else started from its spec."""
    base = [sys.executable, "-m", "gen", "train", sweep.model, "--out", str(run.root), "-q"]
    if run.is_run() and run.has_checkpoints():
        return [*base, "--resume"], "resumed"
    spec = spaces.resolve(sweep.spec_class, sweep.fixed, params, sweep.base)
    path = sweep.folder.spec_file(n)
    atomic_write_text(path, spec.model_dump_json(indent=2) + "\n")
    return [*base, "--spec", str(path)], "started"


def _wait_for_writer(sweep: Sweep, run: RunDir) -> None:
    """A `gen train` left running by a sweep process that was killed alone still holds the
    trial's run: it is waited for, then continued (never trained by two processes)."""
    said = False
    while not sweep.stop.is_set():
        try:
            RunLock(run.lock_path).check_free()
            return
        except RunLockedError as exc:
            if not said:
                sweep.say(f"waiting: {exc}")
                said = True
            sweep.stop.wait(POLL_S)


def _run(sweep: Sweep, command: list[str], log: Path, watch: Watch | None = None) -> int:
    """Run ``command`` with its output appended to ``log``, reading the trial's scores every
    `POLL_S`. A pruned trial, or a stop of the whole sweep, is passed on as SIGTERM (once:
    `gen train` takes a second Ctrl-C as "stop now, without a checkpoint")."""
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(command)}\n")
        out.flush()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=sweep.env)
    sweep.running.add(proc)
    signalled = False
    try:
        while True:
            try:
                return proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                if watch is not None:
                    watch.poll()
            pruned = watch is not None and watch.pruned_at is not None
            if not signalled and (sweep.stop.is_set() or pruned):
                proc.send_signal(signal.SIGTERM)
                signalled = True
    finally:
        sweep.running.discard(proc)


class Watch:
    """Reports a running trial's intermediate scores to the study as training logs them, and
    asks the pruner after each new one."""

    def __init__(self, sweep: Sweep, trial: Any, run: RunDir):
        self.sweep, self.trial, self.run = sweep, trial, run
        frozen = next(t for t in sweep.study.get_trials(deepcopy=False)
                      if t.number == trial.number)
        values = frozen.intermediate_values
        self.reported = set(values)
        self.last = values[max(values)] if values else float("nan")
        self.pending = bool(values)  # a continued trial is judged on what it reported before
        self.pruned_at: int | None = None

    def poll(self) -> None:
        if self.pruned_at is not None:
            return
        new = [(r["step"], value) for r in read_metrics(self.run.metrics_path)
               if (value := _value(r, self.sweep.metric)) is not None
               and r["step"] not in self.reported]
        if not new and not self.pending:
            return
        self.pending = False
        for step, value in new:  # the pruner judges each step's score
            self.trial.report(value, step)
            self.reported.add(step)
            self.last = value
            if self.trial.should_prune():
                self.pruned_at = step
                return
        if not new and self.trial.should_prune():
            self.pruned_at = max(self.reported)


def _score(sweep: Sweep, trial: Any, run: RunDir) -> None:
    """The trial's value: its metric at its last step, from the log where training evaluated
    there (``train.eval_every``), else measured by `gen evaluate` on ``train.eval_n`` images."""
    n = trial.number
    records = read_metrics(run.metrics_path)
    last = max((r["step"] for r in records), default=0)
    found, source = _evaluation_at(records, sweep.metric, last), "training"
    if found is None:
        spec = RunDir(run.root).read_spec()["train"]
        command = [sys.executable, "-m", "gen", "evaluate", str(run.root), "--metrics",
                   sweep.metric, "-n", str(spec["eval_n"]), "--extractor",
                   spec["eval_extractor"], "--device", spec["device"]]
        code = _run(sweep, command, sweep.folder.log(n))
        if sweep.stop.is_set() or code in STOPPED:  # Ctrl-C while it was scored: not failed
            sweep.say(f"trial {n}: stopped while scored; it is scored when the sweep runs "
                      "again")
            return
        if code != 0:
            _fail(sweep, trial, f"gen evaluate exited with {code}: "
                                f"{_last_error(sweep.folder.log(n))}")
            return
        found = _evaluation_at(read_metrics(run.metrics_path), sweep.metric, last)
        source = f"gen evaluate -n {spec['eval_n']}"
    value = None if found is None else _value(found, sweep.metric)
    if value is None or not math.isfinite(value):
        _fail(sweep, trial, f"no finite {sweep.metric} score at step {last}")
        return
    trial.set_user_attr("score", {"metric": sweep.metric, "step": last, "source": source})
    tell(sweep, trial, values=value)
    sweep.say(f"trial {n}: {sweep.metric} {value:.4g} at step {last} ({source})")


def _evaluation_at(records: list[dict[str, Any]], metric: str,
                   step: int) -> dict[str, Any] | None:
    found = [r for r in records if r["step"] >= step and _value(r, metric) is not None]
    return found[-1] if found else None


def _value(record: dict[str, Any], metric: str) -> float | None:
    evaluation = record.get("evaluation")
    if not isinstance(evaluation, dict) or evaluation.get("metric") != metric:
        return None
    value = evaluation.get("value")
    return float(value) if isinstance(value, int | float) else None


def tell(sweep: Sweep, trial: Any, **outcome: Any) -> None:
    """``study.tell`` as Optuna's own loop calls it: a sampler that ends the study itself
    (GridSampler once its grid is done) calls ``study.stop()``, which Optuna allows only inside
    that loop (a flag of its own, per thread); the sweep then starts no more trials."""
    local = sweep.study._thread_local
    local.in_optimize_loop = True
    try:
        sweep.study.tell(trial, **outcome)
    finally:
        local.in_optimize_loop = False
    if sweep.study._stop_flag:
        sweep.exhausted = True


def _fail(sweep: Sweep, trial: Any, why: str) -> None:
    trial.set_user_attr("error", why)
    tell(sweep, trial, state=sweep.optuna.trial.TrialState.FAIL)
    sweep.say(f"trial {trial.number}: failed: {why}")


def _last_error(log: Path) -> str:
    """The `error:` line a gen command printed last, else its last line."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return "(no log)"
    errors = [line for line in lines if line.startswith("error:")]
    lines = [line for line in lines if line]
    return (errors or lines or ["(no output)"])[-1].removeprefix("error: ")


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())
