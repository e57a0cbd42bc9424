"""Where the study lives: Optuna's RDB storage, SQLite in the sweep folder by default.

Why SQLite by default rather than Optuna's journal file: SQLite's locks are the kernel's
(``fcntl``), so they die with a killed process, as gen's run locks do; the journal file's
default lock is a symlink that a killed holder leaves behind for its 30 s grace period, and a
killed sweep is a case gen must handle. A busy timeout of a minute covers the few writes per
trial that several jobs and processes on one machine make (Optuna's FAQ warns of SQLite under
heavy parallel writes, not of a handful per minute). SQLite needs a local disk; several
machines share a study through a database server (``--storage postgresql://...``).

A URL's password is never written to disk: sweep.json keeps the URL with ``***`` in its place.
"""

from __future__ import annotations

import time
from typing import Any

from gen.errors import GenError, UsageError

SQLITE_TIMEOUT_S = 60
INSTALL = "pip install 'gen-core[sweep]'"


def optuna() -> Any:
    """Optuna, an optional extra: imported only by the sweep code, never by ``import gen``."""
    try:
        import optuna as module
    except ImportError:
        raise GenError(f"gen sweep runs on Optuna, which is not installed: {INSTALL}") from None
    module.logging.set_verbosity(module.logging.WARNING)  # gen prints one line per trial
    return module


def masked(url: str) -> str:
    """``url`` as sweep.json records it: its password (if any) replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:  # not a URL at all: open_storage says so
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def has_hidden_password(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password == "***"
    except ArgumentError:
        return False


def open_storage(url: str) -> Any:
    """Optuna's storage at ``url``; one it cannot open is a one-line error (exit 2)."""
    op = optuna()
    from sqlalchemy.exc import SQLAlchemyError

    kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else {}
    tries = 0
    while True:
        try:
            return op.storages.RDBStorage(url, engine_kwargs=kwargs)
        except (SQLAlchemyError, ValueError, ImportError, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            tries += 1
            if not _lost_race(exc) or tries == 3:
                raise UsageError(f"cannot open storage {masked(url)}: {reason}") from None
            time.sleep(0.5)  # another process made the tables as this one did: they are there


def _lost_race(exc: BaseException) -> bool:
    """Whether opening a new database failed because another process was making its tables
    at the same moment (Optuna creates them, then records their version, without a lock)."""
    from sqlalchemy.exc import IntegrityError

    text = str(exc)
    return isinstance(exc, IntegrityError) or "already exists" in text or "locked" in text


def open_study(storage: Any, name: str, direction: str, definition: dict[str, Any],
               sampler: Any = None, pruner: Any = None) -> Any:
    """The study ``name`` in ``storage``, created if new. A study is one sweep: one made by
    another sweep (another model, space, metric or spec) or not by gen is refused."""
    op = optuna()
    study = op.create_study(study_name=name, storage=storage, direction=direction,
                            sampler=sampler, pruner=pruner, load_if_exists=True)
    mine = {k: definition[k] for k in ("model", "plugin", "space", "metric", "spec")}
    recorded = study.user_attrs.get("gen_sweep")
    if recorded is None:
        if study.trials:
            raise UsageError(f"study {name!r} in {masked(_url(storage))} was not made by gen "
                             "sweep; choose another study name with --study")
        study.set_user_attr("gen_sweep", mine)
        recorded = study.user_attrs.get("gen_sweep", mine)
    if recorded != mine:
        differ = ", ".join(k for k in mine if recorded.get(k) != mine[k])
        raise UsageError(f"study {name!r} in {masked(_url(storage))} is a sweep with another "
                         f"{differ}: choose another study name with --study")
    if study.direction.name.lower() != direction:
        raise UsageError(f"study {name!r} is {study.direction.name.lower()}d, but --metric "
                         f"{definition['metric']} is to be {direction}d")
    return study


def _url(storage: Any) -> str:
    return str(getattr(storage, "url", storage))
