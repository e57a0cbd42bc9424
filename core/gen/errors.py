"""Errors meant for users.

Everything a user can cause (a bad spec, missing data, an unknown model, a broken checkpoint)
raises a `GenError` subclass whose message says what went wrong and what to do. The CLI renders
these as one short message and a non-zero exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class GenError(Exception):
    """Base class of every error that is the user's to fix. `exit_code` is what the CLI returns."""

    exit_code = 1


class SpecError(GenError):
    """An invalid spec or override; `problems` are (dotted path, message) pairs."""

    exit_code = 2

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        self.problems = problems
        self.source = source
        head = f"invalid spec ({source})" if source else "invalid spec"
        lines = [f"{path}: {msg}" if path else msg for path, msg in problems]
        super().__init__(head + ":\n" + "\n".join("  " + line for line in lines))


class UsageError(GenError):
    """Options that cannot be used together, or one missing that another needs."""

    exit_code = 2


class UnknownModelError(GenError):
    """A model name that no installed plugin registers."""

    exit_code = 2


class UnknownExtractorError(GenError):
    """A feature extractor name that no installed plugin registers."""

    exit_code = 2


class UnknownDatasetError(GenError):
    """A data set name that no installed plugin registers (a spec error: exit 2)."""

    exit_code = 2


class UnknownTrackerError(GenError):
    """A tracker name that no installed plugin registers (a spec error: exit 2)."""

    exit_code = 2


class AmbiguousNameError(GenError):
    """A model or extractor name that several plugins register: it must be named as
    ``PLUGIN:NAME``."""

    exit_code = 2


class FolderError(GenError):
    """A folder gen will not write into: not empty and not a gen run. Nothing was written."""

    exit_code = 2


class RunLockedError(GenError):
    """The run is being trained by another process, which holds its lock."""


class PluginError(GenError):
    """A plugin that cannot be used: failed import, bad hook, duplicate model name."""


class DataError(GenError):
    """Data that is missing, empty, unreadable or of the wrong shape."""


class CheckpointError(GenError):
    """A run directory or checkpoint that is missing, corrupt, or belongs to another model."""


class TrainingError(GenError):
    """Training cannot go on (for example a non-finite loss)."""


class WriteError(GenError, OSError):
    """A file gen could not write: a full disk, a read-only folder. Also an `OSError` (with the
    original errno), so code that already handles OS errors keeps handling it."""

    def __init__(self, path: object, exc: OSError, hint: str | None = None):
        super().__init__(exc.errno, exc.strerror, str(path))
        reason = exc.strerror or str(exc)
        self.message = f"cannot write {path}: {reason[:1].lower()}{reason[1:]}"
        if hint:
            self.message += f" ({hint})"

    def __str__(self) -> str:
        return self.message


class GenWarning(UserWarning):
    """Something gen did that a user should know of (data it left out, say); the CLI prints
    it as one ``warning:`` line."""
