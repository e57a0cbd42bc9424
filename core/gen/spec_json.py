"""Spec text: a spec file read as JSON, and ``--set KEY=VALUE`` overrides parsed and applied,
each fault (malformed or too deep JSON, a number Python will not read) a `SpecError` naming
the file or the field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gen.errors import SpecError

TOO_DEEP = "JSON nested too deeply (a spec is a few levels of objects and lists)"


def load_json(path: str | Path) -> dict[str, Any]:
    """Read a spec file; a missing file or malformed JSON is a `SpecError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([("", f"cannot read spec file: {exc.strerror}")], str(path)) from None
    except UnicodeDecodeError as exc:
        raise SpecError([("", f"not UTF-8 text (byte {exc.start})")], str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [("", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")], str(path)
        ) from None
    except ValueError as exc:  # a number of more digits than Python reads
        raise SpecError([("", unreadable(exc))], str(path)) from None
    except RecursionError:
        raise SpecError([("", TOO_DEEP)], str(path)) from None
    if not isinstance(data, dict):
        raise SpecError([("", f"expected a JSON object, got {type(data).__name__}")], str(path))
    return data


def unreadable(exc: ValueError) -> str:
    """What JSON that parses but cannot be read holds (Python reads no integer of more than
    4,300 digits from text), in one line."""
    return f"cannot read this JSON: {str(exc).split(';')[0]}"


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"train.steps=200"`` -> (["train", "steps"], 200). Values are JSON, else plain strings."""
    key, sep, value = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(p.strip() for p in parts):
        raise SpecError([("", f"bad override {item!r}: expected KEY=VALUE, e.g. train.steps=200")])
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    except ValueError as exc:  # a number of more digits than Python reads
        raise SpecError([(key.strip(), unreadable(exc))]) from None
    except RecursionError:
        raise SpecError([(key.strip(), TOO_DEEP)]) from None
    return [p.strip() for p in parts], parsed


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> None:
    for item in overrides:
        parts, value = parse_override(item)
        node = raw
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                path = ".".join(parts[: i + 1])
                raise SpecError([(path, f"cannot set {item!r}: {path} is not a section")])
        node[parts[-1]] = value
