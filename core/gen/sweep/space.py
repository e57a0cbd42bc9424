"""The search space of a sweep: ranges and choices over spec fields, checked against the model's
own spec class before any trial starts.

A space is a JSON object from dotted spec paths (list items as ``[i]``, as spec errors name
them) to one distribution each::

    {"model.optimizer.lr": {"log_uniform": [1e-5, 1e-2]},
     "model.optimizer.betas[0]": {"uniform": [0.0, 0.9]},
     "train.batch_size": {"int": [16, 128], "log": true},
     "model.backbone": {"choice": ["mlp", "dcgan"]}}

Why the spec class and not a copy of its bounds: the class is the one authority on what a field
accepts (pydantic bounds, Literal values, a family's own cross-field checks), so each range end
and each choice is put into the fixed spec and validated as `gen train` would; what validation
says is reported against the space's key. Nothing here imports torch or Optuna.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gen import specs
from gen.errors import GenError, SpecError
from gen.paths import user_path
from gen.spec_base import short
from gen.spec_json import TOO_DEEP, unreadable

KINDS = ("uniform", "log_uniform", "int", "choice")
_KEY = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\d+\])*")
_PART = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(\d+)\]")


class SpaceError(GenError):
    """A search space that is malformed or does not fit the model's spec (exit 2)."""

    exit_code = 2

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        self.problems = problems
        head = f"invalid sweep space ({source})" if source else "invalid sweep space"
        lines = [f"{key}: {msg}" if key else msg for key, msg in problems]
        super().__init__(head + ":\n" + "\n".join("  " + line for line in lines))


class PathError(SpecError):
    """A space key the spec's structure cannot hold (an item past a list's end, an item of a
    field that is no list), whatever its value."""


@dataclass(frozen=True)
class Param:
    """One dimension of the space: a spec path and its distribution."""

    key: str
    kind: str  # one of KINDS
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def probes(self) -> list[Any]:
        """The values a spec must accept for the whole range to be valid: both ends, or every
        choice."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]

    def describe(self) -> str:
        if self.kind == "choice":
            return f"choice {json.dumps(list(self.choices))}"
        log = ", log" if self.log and self.kind == "int" else ""
        return f"{self.kind} [{self.low:g}, {self.high:g}]{log}"


def load_space(space: Mapping[str, Any] | str | Path) -> tuple[dict[str, Any], str | None]:
    """The raw space and where it came from: a mapping as it is, a JSON file, or JSON text (a
    string that starts with ``{``)."""
    if isinstance(space, Mapping):
        return dict(space), None
    text, source = str(space), None
    if not text.lstrip().startswith("{"):
        source = text
        try:
            text = user_path(text, "--space").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise SpaceError([("", f"cannot read the space file: {reason}")], source) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpaceError([("", f"malformed JSON at line {exc.lineno} column {exc.colno}: "
                               f"{exc.msg}")], source) from None
    except ValueError as exc:  # a number of more digits than Python reads
        raise SpaceError([("", unreadable(exc))], source) from None
    except RecursionError:
        raise SpaceError([("", TOO_DEEP)], source) from None
    if not isinstance(raw, dict):
        raise SpaceError([("", f"expected a JSON object, got {type(raw).__name__}")], source)
    return raw, source


def parse_space(raw: dict[str, Any], source: str | None = None) -> list[Param]:
    """The space's distributions; every malformed entry is one problem naming its key."""
    if not raw:
        raise SpaceError([("", "the space is empty: give at least one field to sweep, e.g. "
                               '{"model.optimizer.lr": {"log_uniform": [1e-5, 1e-2]}}')], source)
    params, problems = [], []
    for key, value in raw.items():
        try:
            params.append(_param(key, value))
        except ValueError as exc:
            problems.append((key, str(exc)))
    if problems:
        raise SpaceError(problems, source)
    return params


def _param(key: str, value: Any) -> Param:
    if not _KEY.fullmatch(key):
        raise ValueError("expected a dotted spec path such as model.optimizer.lr (list items "
                         "as [i]: model.optimizer.betas[0])")
    if key == "model.name":
        raise ValueError("the model is the sweep's NAME; sweep another model in another sweep")
    kinds = [k for k in KINDS if isinstance(value, dict) and k in value]
    extra = sorted(set(value) - {*KINDS, "log"}) if isinstance(value, dict) else []
    if len(kinds) != 1 or extra or ("log" in value and kinds != ["int"]):
        raise ValueError(f"expected one of {_examples()}; got {short(value)}")
    kind = kinds[0]
    if kind == "choice":
        return Param(key, kind, choices=_choices(value[kind]))
    low, high = _bounds(kind, value[kind])
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f'"log" must be true or false, got {short(log)}')
    if (kind == "log_uniform" or log) and low <= 0:
        raise ValueError(f"a log scale needs a low end above 0 (got {low:g})")
    return Param(key, kind, low, high, log=kind == "log_uniform" or log)


def _bounds(kind: str, ends: Any) -> tuple[float, float]:
    integer = kind == "int"
    wanted = "integers" if integer else "finite numbers"
    if not (isinstance(ends, list) and len(ends) == 2 and all(
            _is_number(e) and (isinstance(e, int) or not integer) for e in ends)):
        raise ValueError(f"{kind} takes [low, high], two {wanted}; got {short(ends)}")
    low, high = ends
    if not low < high:
        raise ValueError(f"{kind} [{low:g}, {high:g}]: low must be below high")
    return low, high


def _choices(options: Any) -> tuple[Any, ...]:
    """Optuna's categorical choices are scalars; a list field is swept item by item."""
    if not isinstance(options, list) or not options:
        raise ValueError(f"choice takes a non-empty list; got {short(options)}")
    bad = [o for o in options if not (o is None or isinstance(o, str | bool | int | float))]
    if bad:
        raise ValueError(f"choices must be strings, numbers, booleans or null (got "
                         f"{short(bad[0])}); sweep a list field item by item, e.g. "
                         "model.optimizer.betas[0]")
    if any(isinstance(o, float) and not math.isfinite(o) for o in options):
        raise ValueError("choices must be finite numbers")
    if len({json.dumps(o) for o in options}) != len(options):
        raise ValueError(f"choices repeat a value: {short(options)}")
    return tuple(options)


def check_space(spec_class: type, fixed: dict[str, Any], params: list[Param],
                source: str | None = None) -> None:
    """Every range end and every choice, put alone into the fixed spec, must make a valid spec
    of ``spec_class``; a field the spec does not have is named with the closest one that it
    does."""
    base = specs.validate(spec_class, fixed).model_dump(mode="json")
    problems = []
    for param in params:
        for value in param.probes():
            found = _probe(spec_class, fixed, base, param, value)
            if found:
                problems.append((param.key, found))
                break  # one problem per key: the first end or choice that fails
    if problems:
        raise SpaceError(problems, source)


def _probe(spec_class: type, fixed: dict[str, Any], base: dict[str, Any], param: Param,
           value: Any) -> str | None:
    try:
        resolve(spec_class, fixed, {param.key: value}, base)
    except PathError as exc:
        return "; ".join(f"{path} {msg}" for path, msg in exc.problems)
    except SpecError as exc:
        unknown = [path for path, msg in exc.problems if msg.startswith("Extra inputs")
                   and _within(param.key, path)]
        if unknown:
            return _unknown(param.key, spec_class, base)
        shown = "; ".join(f"{path}: {msg}" if path else msg for path, msg in exc.problems)
        return f"{param.describe()} reaches {short(value)}, which the spec refuses: {shown}"
    return None


def resolve(spec_class: type, fixed: dict[str, Any], values: Mapping[str, Any],
            base: dict[str, Any] | None = None) -> specs.RunSpec:
    """The run spec of one trial: ``values`` (space key -> value) put into the fixed raw spec,
    then validated as `gen train` validates a spec. Fields keep their place among the raw
    spec's layers (a family's defaults still follow from the fields set), and a list item
    starts from the list of the fixed spec (``base``: its validated, complete form)."""
    raw = copy.deepcopy(fixed)
    for key, value in values.items():
        _assign(raw, _parts(key), value, base if base is not None else
                specs.validate(spec_class, fixed).model_dump(mode="json"))
    return specs.validate(spec_class, raw)


def _assign(raw: dict[str, Any], parts: list[str | int], value: Any,
            base: dict[str, Any]) -> None:
    node, full = raw, base
    for i, part in enumerate(parts):
        if isinstance(part, int) and not _has(node, part):
            raise PathError([(_path(parts[:i]), f"has {len(node)} items, so no [{part}]")])
        if i == len(parts) - 1:
            break
        full = full[part] if _has(full, part) else None
        here = node[part] if _has(node, part) else None
        if isinstance(parts[i + 1], int):
            if not isinstance(here, list):
                if not isinstance(full, list):
                    raise PathError([(_path(parts[:i + 1]), "is not a list")])
                here = copy.deepcopy(full)
        elif not isinstance(here, dict):
            here = {}
        node[part] = here
        node = here
    node[parts[-1]] = value


def _has(node: Any, part: str | int) -> bool:
    if isinstance(part, int):
        return isinstance(node, list) and part < len(node)
    return isinstance(node, dict) and part in node


def _parts(key: str) -> list[str | int]:
    return [m[1] if m[1] is not None else int(m[2]) for m in _PART.finditer(key)]


def _path(parts: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p)
                   for i, p in enumerate(parts))


def _within(key: str, path: str) -> bool:
    """Whether the spec path ``path`` is ``key`` or a section holding it."""
    return key == path or key.startswith((path + ".", path + "["))


def _unknown(key: str, spec_class: type, base: dict[str, Any]) -> str:
    family = spec_class.model_fields["name"].default
    close = _closest(_parts(key), base)
    hint = f" Did you mean {close!r}?" if close else ""
    return f"no such field in a spec of model {family!r} (`gen spec {family}` shows them).{hint}"


def _closest(parts: list[str | int], base: dict[str, Any]) -> str | None:
    """``parts`` with its first unknown name replaced by the closest known one at that place
    (``model.optimizr.lr`` -> ``model.optimizer.lr``), where the result is a field."""
    node: Any = base
    for i, part in enumerate(parts):
        if _has(node, part):
            node = node[part]
            continue
        if not isinstance(part, str) or not isinstance(node, dict):
            return None
        for name in difflib.get_close_matches(part, list(node), n=3):
            fixed = [*parts[:i], name, *parts[i + 1:]]
            if _exists(fixed, base):
                return _path(fixed)
        return None
    return None


def _exists(parts: list[str | int], node: Any) -> bool:
    """Whether ``parts`` names a field of the complete spec ``node`` (below a null section,
    such as gen-gan's ``model.d_optimizer``, any name may be one)."""
    for part in parts:
        if node is None:
            return True
        if not _has(node, part):
            return False
        node = node[part]
    return True


def _examples() -> str:
    return ('{"uniform": [a, b]}, {"log_uniform": [a, b]}, {"int": [a, b]} (with "log": true '
            'for a log scale) or {"choice": [...]}')


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))
