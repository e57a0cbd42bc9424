"""A run's facts and status line in words, taken from its records: steps against the plan or
the time budget, wall time over every session, where it was resumed, best.pt and how it was
measured."""

from __future__ import annotations

from typing import Any

from gen.report.collect import RunReport
from gen.report.measurement import metric_name
from gen.report.values import duration, fmt


def status(r: RunReport) -> str:
    """Finished, stopped on its budget, or not finished (still training, or stopped)."""
    planned = f" of {r.planned_steps:,}" if r.planned_steps is not None else ""
    if r.planned_steps is not None and r.step >= r.planned_steps:
        return f"finished: {r.step:,}{planned} steps"
    stop = r.stopped or {}
    if stop.get("step") == r.step == r.logged_step and isinstance(stop.get("budget"),
                                                                  int | float):
        return (f"stopped on its time budget (train.max_time = {stop['budget']:g} s) at "
                f"step {r.step:,}{planned}; continue it with gen train --resume")
    if r.step == 0 and r.logged_step == 0:
        return f"nothing logged yet (0{planned} steps): training, or stopped at its start"
    checkpoint = f"checkpoint at step {r.step:,}" if r.step else "no checkpoint yet"
    return (f"not finished: logged up to step {r.logged_step:,}{planned}, {checkpoint}; "
            "still training, or stopped (continue it with gen train --resume)")


def rows(r: RunReport) -> list[tuple[str, str]]:
    """(name, value) rows of the facts table; an empty value is shown as a dash."""
    info = r.info
    return [
        ("model", r.model + (f" ({info['kind']})" if info.get("kind") else "")),
        ("plugin", " ".join(str(info[k]) for k in ("plugin", "plugin_version") if info.get(k))),
        ("data", data_text(info)),
        ("device", _device(info)),
        ("steps", steps_text(r)),
        ("wall time", wall_time_text(r)),
        ("images/s", "" if r.images_per_s is None else f"{r.images_per_s:,.1f} (median)"),
        ("best checkpoint", best_text(r)),
        ("versions", ", ".join(f"{name} {info[key]}" for name, key in
                               (("gen", "gen_version"), ("torch", "torch_version"))
                               if info.get(key))),
    ]


def data_text(info: dict[str, Any]) -> str:
    """``bundled-mnist, 1x16x16, 9000 images, 10 classes``."""
    data = info.get("data")
    if not isinstance(data, dict) or not data:
        return ""
    parts = [str(data.get("name", "?"))]
    if data.get("channels") is not None and data.get("image_size") is not None:
        size = data["image_size"]
        parts.append(f"{data['channels']}x{size}x{size}")
    if data.get("num_images") is not None:
        parts.append(f"{data['num_images']} images")
    if data.get("num_classes"):
        parts.append(f"{data['num_classes']} classes")
    return ", ".join(parts)


def _device(info: dict[str, Any]) -> str:
    if not info.get("device"):
        return ""
    processes = info.get("processes")
    many = isinstance(processes, int) and processes > 1
    return f"{info['device']}" + (f" x {processes} processes" if many else ", 1 process")


def steps_text(r: RunReport) -> str:
    """``6 of 6 (checkpoint at 6)``; with train.max_time the budget instead of the plan
    (``1,234 steps in a 5 min 00 s budget``): such a run ends when its time does."""
    checkpoint = f"checkpoint at {r.step:,}" if r.step else "no checkpoint yet"
    if r.max_time is None:
        planned = f" of {r.planned_steps:,}" if r.planned_steps is not None else ""
        return f"{r.reached:,}{planned} ({checkpoint})"
    sessions = len(r.timeline.sessions)
    budget = (f"{sessions} sessions of a {duration(r.max_time)} budget each" if sessions > 1
              else f"a {duration(r.max_time)} budget")
    return f"{r.reached:,} steps in {budget} ({checkpoint})"


def wall_time_text(r: RunReport) -> str:
    """The time of every session, a ``stopped`` line's included, and where it resumed."""
    total = r.timeline.wall_time
    if total is None:
        return ""
    resumed = r.timeline.resumed_at
    if not resumed:
        return duration(total)
    steps = ", ".join(f"{s:,}" for s in resumed)
    return (f"{duration(total)} over {len(resumed) + 1} sessions "
            f"(resumed at step {steps})")


def best_text(r: RunReport) -> str:
    """best.pt's step, score and how the score was measured."""
    if r.best is None:
        return "none (best.pt is kept by train.eval_every)"
    s = r.best_score
    if s is None:
        return f"step {r.best.get('step')} (best.pt records no score)"
    unit = f" {s.unit}" if s.unit else ""
    how = s.measurement.text()
    found = "" if r.best_logged else "; its evaluation record is not in metrics.jsonl"
    return f"step {s.step:,}: {metric_name(s.metric)} {fmt(s.value)}{unit}, measured {how}{found}"
