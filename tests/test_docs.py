"""The docs keep up with the code: the spec reference is generated, every hook and every command
is documented (a new hook or command without docs fails here, as in datasette)."""

import inspect
import re
from pathlib import Path

import pytest

from gen import hookspecs, specdoc
from gen.cli.main import cli

DOCS = Path(__file__).parents[1] / "docs"
HOOKS = [
    f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("gen_")
]


def test_spec_reference_is_up_to_date(monkeypatch):
    monkeypatch.delenv("GEN_PLUGINS", raising=False)  # the docs cover installed plugins only
    assert (DOCS / "specs.md").read_text() == specdoc.render(), (
        "docs/specs.md is out of date: regenerate it with `python -m gen.specdoc > docs/specs.md`"
    )


def test_hooks_exist():
    assert HOOKS, "no gen_* hooks found in gen.hookspecs"


@pytest.mark.parametrize("hook", HOOKS, ids=lambda f: f.__name__)
def test_hook_is_documented_with_its_signature(hook):
    params = ", ".join(inspect.signature(hook).parameters)
    heading = f"### `{hook.__name__}({params})`"
    text = (DOCS / "plugins.md").read_text()
    assert re.search(rf"^{re.escape(heading)}$", text, re.MULTILINE), (
        f"docs/plugins.md needs a section headed {heading!r} describing the hook"
    )


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_command_is_in_the_quickstart(command):
    assert f"gen {command}" in (DOCS / "quickstart.md").read_text(), (
        f"docs/quickstart.md does not mention `gen {command}`"
    )
