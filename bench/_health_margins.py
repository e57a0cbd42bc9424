"""How close runs came to each training-health rule (docs/health.md): the figures the rules
were calibrated on. Reads finished or running runs; trains nothing.

    python bench/_health_margins.py RUN [RUN ...]

Per run: the warnings it logged; the longest stretch of log records with d_acc_fake >= the
rule's threshold; the smallest gradient norms as a share of their early median (the rule
fires below `HealthRules.vanished` for a window); the largest jump of a watched value over
its recent median (`HealthRules.blow_up`); and each evaluation's class coverage.
"""

from __future__ import annotations

import statistics
import sys
from collections import deque

import gen
from gen.training.health import HealthRules, watched


def margins(path: str) -> None:
    run = gen.load_run(path, device="cpu")
    rules = HealthRules()
    records = run.metrics()
    lines = [r for r in records if "d_acc_fake" in r]
    print(f"## {run.name}: {path}, {len(lines)} log records up to step {run.step}")
    for r in records:
        if "warning" in r:
            print(f"warning: {r['warning']['message']}")
    longest = current = 0
    for r in lines:
        current = current + 1 if r["d_acc_fake"] >= rules.fake_rejected else 0
        longest = max(longest, current)
    print(f"longest stretch with d_acc_fake >= {rules.fake_rejected}: {longest} records "
          f"(the rule needs {rules.window} together with a vanished gradient)")
    early, later = lines[: rules.early_records], lines[rules.early_records:]
    for name, share in rules.vanished:
        key = f"grad_norm/{name}"
        if early and later and key in early[0]:
            base = statistics.median(r[key] for r in early)
            low = min(later, key=lambda r: r[key])
            print(f"{key}: early median {base:.3g}; lowest later {low[key]:.3g} at step "
                  f"{low['step']} = {low[key] / base:.3f} of it (rule: < {share})")
    jumps = []
    recent: dict[str, deque] = {}
    for r in records:
        for key, value in r.items():
            if watched(key, value):
                seen = recent.setdefault(key, deque(maxlen=rules.blow_up_history))
                one_sign = all(v > 0 for v in seen) or all(v < 0 for v in seen)
                if len(seen) == seen.maxlen and one_sign:
                    median = max(statistics.median(abs(v) for v in seen), rules.blow_up_floor)
                    jumps.append((abs(value) / median, key, r["step"]))
                seen.append(value)
    if jumps:
        ratio, key, step = max(jumps)
        print(f"largest jump: {key} at step {step}, {ratio:.1f}x its recent median "
              f"(rule: > {rules.blow_up}x)")
    for r in records:
        if "coverage" in r:
            c = r["coverage"]
            extra = (f", label accuracy {c['label_accuracy']:.3f}"
                     if "label_accuracy" in c else "")
            print(f"coverage at step {r['step']}: {c['classes_covered']}/{c['num_classes']} "
                  f"classes, KL {c['kl']:.3f} nats, feature spread {c['feature_spread']:.3f}"
                  f"{extra}")
        if "evaluation" in r:
            e = r["evaluation"]
            print(f"{e['metric']} at step {r['step']}: {e['value']:.2f}")


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        margins(argument)
