"""The parts of a spec that plugins validate: ``data.options`` by the data set's options class,
``train.trackers`` by each tracker's. Discovery and those classes only: no torch."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from gen.errors import GenError, SpecError
from gen.plugins import get_plugins
from gen.spec_base import StrictSpec, render_errors


def check_plugin_parts(spec: StrictSpec, source: str | None, known: bool) -> None:
    """Complete ``spec`` (a `gen.specs.RunSpec`) in place: data options and trackers checked
    against their plugins, with every default filled in (so spec.json shows them). With
    ``known`` False (an existing run opened to sample) what is not registered here is kept."""
    spec.data.options = _data_options(spec.data, source, known)
    if spec.train.trackers is not None:
        spec.train.trackers = _trackers(spec.train.trackers, source, known)


def _data_options(data: StrictSpec, source: str | None, known_data: bool) -> dict[str, Any]:
    """``data.dataset`` checked against the registered data sets (with the closest name), and
    ``data.options`` against its options class, with every default filled in (so spec.json
    shows them). With ``known_data`` False an unregistered data set keeps its options as they
    are."""
    try:
        info = get_plugins().registry.get_dataset(data.dataset)
    except GenError as exc:  # unknown or ambiguous
        if not known_data:
            return data.options
        raise SpecError([("data.dataset", str(exc))], source) from None
    try:
        options = dataset_options(info, data.options)
    except SpecError as exc:
        raise SpecError(exc.problems, source) from None
    except GenError as exc:  # the options class cannot be imported
        raise SpecError([("data.options", str(exc))], source) from None
    return {} if options is None else options.model_dump(mode="json")


def dataset_options(info: Any, raw: dict[str, Any]) -> BaseModel | None:
    """``data.options`` as an instance of the data set's options class (None where it declares
    none); a bad value is a `SpecError` naming ``data.options.FIELD``."""
    return _options(info, raw, "data set", "data.options")


def _trackers(entries: list[str | dict[str, Any]], source: str | None, known: bool
              ) -> list[dict[str, Any]]:
    """``train.trackers`` as ``[{"name": ..., **options}]``: each name registered (with the
    closest name), installed (else the command that installs it) and its options valid."""
    out, problems, seen = [], [], set()
    for i, entry in enumerate(entries):
        where = f"train.trackers[{i}]"
        raw = {"name": entry} if isinstance(entry, str) else dict(entry)
        name = raw.pop("name", None)
        if not isinstance(name, str) or not name:
            problems.append((where, "expected a tracker name or an object with a \"name\""))
            continue
        if name in seen:
            problems.append((where, f"tracker {name!r} is named twice"))
            continue
        seen.add(name)
        try:
            info = get_plugins().registry.get_tracker(name)
        except GenError as exc:
            if known:
                problems.append((where, str(exc)))
            out.append({"name": name, **raw})
            continue
        missing = info.missing()
        if missing and known:
            problems.append((where, f"tracker {name!r} needs {', '.join(missing)}, which is not "
                                    f"installed: {info.install or 'install it'}"))
            continue
        try:
            options = tracker_options(info, raw)
        except SpecError as exc:
            problems += [(f"{where}.{path}" if path else where, message)
                         for path, message in exc.problems]
            continue
        except GenError as exc:  # the options class cannot be imported
            problems.append((where, str(exc)))
            continue
        out.append({"name": name, **({} if options is None else options.model_dump(mode="json"))})
    if problems:
        raise SpecError(problems, source)
    return out


def tracker_options(info: Any, raw: dict[str, Any]) -> BaseModel | None:
    """A tracker's options as an instance of its options class (None where it declares none);
    a bad value is a `SpecError` naming the option."""
    return _options(info, raw, "tracker", "")


def _options(info: Any, raw: dict[str, Any], what: str, where: str) -> BaseModel | None:
    """``raw`` validated by ``info``'s options class, errors named under ``where``."""
    cls = info.options_class()
    if cls is None:
        if raw:
            raise SpecError([(where, f"{what} {info.name!r} takes no options "
                                     f"(got {', '.join(sorted(raw))})")])
        return None
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise SpecError([(f"{where}.{path}" if where and path else where or path, message)
                         for path, message in render_errors(exc)]) from None
