"""The shape of the core: no import cycle among gen's modules (function-level imports count
too), and the rules of the house: storage knows nothing of the loop or of scores, scoring never
needs the loop, data knows nothing of models."""

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).parents[1] / "core"


def import_graph() -> dict[str, set[str]]:
    """Module -> the gen modules it imports anywhere in its body (`import a.b` and
    `from a import b` resolved to the longest module prefix that exists)."""
    files = {}
    for path in (CORE / "gen").rglob("*.py"):
        parts = list(path.relative_to(CORE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
                targets.add(base)
        resolved = {resolve(t) for t in targets if t.split(".")[0] == "gen"}
        # A module importing its own package's __init__ is Python's doing, not a dependency.
        graph[module] = {r for r in resolved if r and r != module
                         and not module.startswith(r + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_gen_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_no_two_subpackages_lean_on_each_other():
    """Modules merged into their first-level sub-package (gen.run.lock -> gen.run): a module
    cycle hidden by the package split, as gen.run.handle -> gen.evaluation -> gen.run.layout
    once was."""
    def top(module: str) -> str:
        return ".".join(module.split(".")[:2])

    merged: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        merged.setdefault(top(module), set()).update(
            top(t) for t in targets if top(t) != top(module))
    assert cycles(merged) == []


STORAGE = ["gen.run.layout", "gen.run.lock", "gen.run.checkpoints", "gen.run.metrics_log",
           "gen.run.resume"]


@pytest.mark.parametrize("module, forbidden", [
    *[(m, ("gen.training", "gen.evaluation", "gen.handle", "gen.cli")) for m in STORAGE],
    ("gen.evaluation", ("gen.training", "gen.handle", "gen.cli")),
    ("gen.handle", ("gen.training", "gen.cli")),
    ("gen.data", ("gen.model", "gen.training", "gen.evaluation", "gen.run")),
    ("gen.sampling", ("gen.training", "gen.run", "gen.evaluation")),
])
def test_house_rules(module, forbidden):
    graph = import_graph()
    for source in (m for m in graph if m == module or m.startswith(module + ".")):
        bad = sorted(t for t in graph[source]
                     if any(t == f or t.startswith(f + ".") for f in forbidden))
        assert not bad, f"{source} imports {bad}"
