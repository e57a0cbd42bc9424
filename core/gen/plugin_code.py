"""Running a plugin's code, and checking what it returns.

A plugin's exception (a `SystemExit`, or any error its own frames raise) must neither end a gen
command as if it had succeeded nor read as a bug of gen's: it becomes a `GenError` naming the
model, its plugin, what was being done, and the exception. An error that never passed through
the plugin's code is gen's own and keeps its traceback. What a plugin returns is checked where
gen uses it (`checked`), so a wrong shape or a NaN is named, never written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from types import TracebackType
from typing import Any, TypeVar

import torch

from gen.errors import GenError, PluginError
from gen.model import Model

T = TypeVar("T")


class PluginOutputError(PluginError):
    """What a model's method returned breaks its contract; `plugin_code` names the plugin."""

    def __init__(self, model: str, problem: str):
        self.problem = problem
        super().__init__(f"model {model!r}: {problem}")


@contextmanager
def plugin_code(model: str, plugin: str, where: str, error: type[GenError] = PluginError,
                then: Callable[[], str] = lambda: "") -> Iterator[None]:
    """Around a call into a model's code; ``then()`` adds what happens next to the message.
    What the plugin prints goes to stderr: stdout may be JSON (`gen evaluate --json`)."""
    try:
        with redirect_stdout(sys.stderr):
            yield
    except PluginOutputError as exc:
        raise error(f"model {model!r} of plugin {plugin!r}: {exc.problem}, in {where}"
                    f"{then()}") from None
    except (GenError, KeyboardInterrupt, GeneratorExit):
        raise
    except Exception as exc:
        if not _through_a_model(exc.__traceback__):
            raise  # gen's own bug: its traceback says where
        raise error(f"model {model!r} of plugin {plugin!r} raised {brief(exc)} in {where}"
                    f"{then()}") from exc
    except BaseException as exc:  # SystemExit: it would end gen as if all went well
        raise error(f"model {model!r} of plugin {plugin!r} raised {brief(exc)} in {where}"
                    f"{then()}") from exc


def brief(exc: BaseException, limit: int = 300) -> str:
    """``repr(exc)`` where it fits one line of the screen; else its first line, cut (torch's
    errors may carry pages of C++ frames). An allocation that failed says what that means."""
    text = repr(exc)
    if "\n" in text or len(text) > limit:
        first = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}({first[:limit - 40]!r}...)"
    if isinstance(exc, MemoryError | torch.OutOfMemoryError) or any(
            sign in str(exc) for sign in ("can't allocate memory", "out of memory",
                                          "Overflow when unpacking")):
        text += (" (more memory, or larger sizes, than this machine holds: the spec's sizes "
                 "are too large for it)")
    return text


def _through_a_model(tb: TracebackType | None) -> bool:
    """Whether the exception passed through a method of a model class outside gen (every call
    into a plugin is one: ``__init__``, ``sample``, ``train_step``, ...)."""
    while tb is not None:
        frame = tb.tb_frame
        module = frame.f_globals.get("__name__", "")
        if (module != "gen" and not module.startswith("gen.")
                and isinstance(frame.f_locals.get("self"), Model)):
            return True
        tb = tb.tb_next
    return False


def guarded(batches: Iterator[T], guard: Callable[[], Any]) -> Iterator[T]:
    """Each step of ``batches`` inside a fresh ``guard()`` (a `plugin_code`), never across a
    yield: a caller that stops early closes the generator outside it (no plugin crash
    reported), and what the caller prints between batches is not redirected."""
    end = object()
    while True:
        with guard():
            batch = next(batches, end)
        if batch is end:
            return
        yield batch


def checked(model: Model, call: str, value: Any, shape: tuple[Any, ...]) -> torch.Tensor:
    """``value`` (what ``call``, e.g. ``"sample(64)"``, of ``model`` returned) if it is a
    finite floating-point tensor of ``shape`` (a trailing ``...`` allows any further sizes);
    else a `PluginOutputError` saying what it is instead."""
    problem = _problem(value, shape)
    if problem is not None:
        raise PluginOutputError(model.spec.name, f"{call} returned {problem}")
    return value


def _problem(value: Any, shape: tuple[Any, ...]) -> str | None:
    if not isinstance(value, torch.Tensor):
        return f"{type(value).__name__}, not a tensor"
    fixed = shape[:-1] if shape and shape[-1] is ... else shape
    got = tuple(value.shape)
    if got[:len(fixed)] != fixed or (len(fixed) == len(shape) and len(got) != len(shape)):
        return f"a tensor of shape {got}; expected {str(shape).replace('Ellipsis', '...')}"
    if not value.is_floating_point():
        return f"a tensor of {value.dtype}; expected floating point"
    value = value.detach()
    finite = torch.isfinite(value)
    if bool(finite.all()):
        return None
    bad = int((~finite.reshape(got[0], -1).all(1)).sum())
    kinds = [k for k, found in (("NaN", value.isnan()), ("inf", value.isposinf()),
                                ("-inf", value.isneginf())) if bool(found.any())]
    return f"{', '.join(kinds)} for {bad} of {got[0]} images"
