"""Running a plugin's code. A `SystemExit` raised there (or any `BaseException` that is neither
an `Exception` nor Ctrl-C) would end a gen command as if it had succeeded: it becomes a
`GenError` naming the model, its plugin and what was being done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gen.errors import GenError, PluginError


@contextmanager
def plugin_code(model: str, plugin: str, where: str, error: type[GenError] = PluginError,
                then: Callable[[], str] = lambda: "") -> Iterator[None]:
    """Around a call into a model's code; ``then()`` adds what happens next to the message."""
    try:
        yield
    except (Exception, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise error(f"model {model!r} of plugin {plugin!r} raised {exc!r} in {where}"
                    f"{then()}") from exc
