"""Discovery commands: list-models, list-datasets, list-trackers, plugins, spec. None imports
torch, but list-models where a model's capabilities are not cached yet (they are read from its
class: `gen.capability_cache`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gen import specs
from gen.capability_cache import listings
from gen.cli.output import stdout_console
from gen.errors import UsageError
from gen.plugins import Plugins, get_plugins
from gen.registry import ModelInfo


def _warn_broken(console: Console) -> None:
    """A warning per broken plugin, and per plugin another distribution may have replaced
    (`Plugins.clashes`): neither stops a listing, both explain what is missing from it."""
    plugins = get_plugins()
    for record in plugins.broken:
        console.print(
            f"warning: plugin {record.name} is broken: {record.error} (see `gen plugins`)",
            markup=False, highlight=False, soft_wrap=True,
        )
    _warn_clashes(console, plugins)


def _warn_clashes(console: Console, plugins: Plugins) -> None:
    for clash in plugins.clashes():
        console.print(f"warning: {clash}", markup=False, highlight=False, soft_wrap=True)


def _warn_contested(console: Console) -> None:
    for name, owners in get_plugins().registry.contested().items():
        console.print(
            f"warning: model name {name!r} is registered by plugins {', '.join(owners)}: name "
            f"the one you mean as PLUGIN:MODEL ({' or '.join(f'{p}:{name}' for p in owners)})",
            markup=False, highlight=False, soft_wrap=True,
        )


def _capability_text(caps: list[str], samplers: dict | None) -> str:
    """``sample, steps (ancestral, ddim), guidance``: an iterative model's samplers beside
    its steps capability."""
    return ", ".join(f"{c} ({', '.join(samplers)})" if c == "steps" and samplers else c
                     for c in caps)


_HEADERS = ("name", "plugin", "kind", "conditional", "capabilities", "summary")
_SUMMARY_MIN = 40  # columns: below this a summary is folded in the narrow layout instead


@dataclass
class _ModelRow:
    """What `gen list-models` shows of a model. ``name`` is the name a user types (PLUGIN:MODEL
    where two plugins register it)."""

    name: str
    info: ModelInfo
    capabilities: Text  # "broken (below)" in red for a class that cannot be loaded

    def cells(self) -> tuple[str, ...]:
        """The cells of the wide table but the summary."""
        m = self.info
        return (self.name, f"{m.plugin} {m.version}", m.kind, "yes" if m.conditional else "no",
                self.capabilities.plain)


def _models_table(rows: list[_ModelRow], width: int) -> Table:
    """One line per model where the terminal is wide enough for every column but the summary
    (which folds) and whole when piped, so ``gen list-models | grep`` finds every field;
    else `_narrow_table`."""
    cells = [r.cells() for r in rows]
    fixed = sum(max(len(h), *(len(c[i]) for c in cells)) + 2
                for i, h in enumerate(_HEADERS[:-1]))
    if fixed + _SUMMARY_MIN + 2 > width:
        return _narrow_table(rows)
    table = Table(*_HEADERS[:-1], box=None)
    for column in table.columns:
        column.no_wrap = True
    table.add_column(_HEADERS[-1], overflow="fold")
    for r, c in zip(rows, cells, strict=True):
        table.add_row(*c[:-1], r.capabilities, Text(r.info.summary))
    return table


def _narrow_table(rows: list[_ModelRow]) -> Table:
    """A terminal too narrow for one line per model: the name whole (it is what `gen train`
    takes), beside its plugin, kind, summary and capabilities, each folded."""
    table = Table.grid(padding=(0, 2))
    table.add_column("name", no_wrap=True)
    table.add_column("about", overflow="fold")
    for i, r in enumerate(rows):
        m = r.info
        about = Text(f"{m.plugin} {m.version}, {m.kind}, "
                     f"{'conditional' if m.conditional else 'unconditional'}\n{m.summary}\n")
        about.append("capabilities: ", style="dim").append_text(r.capabilities)
        if i:
            table.add_row()  # a blank line between models
        table.add_row(Text(r.name, style="bold"), about)
    return table


@click.command("list-models")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_models(as_json: bool) -> None:
    """List the models of every installed plugin and what gen offers each (its capabilities,
    read from the methods its class implements, and cached until the plugin's files change).
    A name two plugins register is listed for each, as PLUGIN:MODEL, the name that picks it."""
    plugins = get_plugins()
    registry = plugins.registry
    models = list(registry)
    found = listings(models)
    if as_json:
        click.echo(json.dumps([{**m.as_dict(), "capabilities": found[m.qualified][0],
                                "samplers": found[m.qualified][1],
                                "error": found[m.qualified][2]} for m in models], indent=2))
        return
    contested = registry.contested()
    rows = []
    for m in models:
        caps, samplers, _ = found[m.qualified]
        text = (Text("broken (below)", style="red") if caps is None
                else Text(_capability_text(caps, samplers)))
        rows.append(_ModelRow(m.qualified if m.name in contested else m.name, m, text))
    console = stdout_console()
    if models:
        console.print(_models_table(rows, console.width))
    elif plugins.broken:
        console.print(f"no models available: {len(plugins.broken)} plugin(s) could "
                      "not be loaded (below; `gen plugins` says why)")
    else:
        console.print("no models installed (try `pip install gen-gan`)")
    err = Console(stderr=True)
    for qualified, (_, _, error) in found.items():
        if error:
            err.print(f"warning: model {qualified} cannot be loaded: {error}", markup=False,
                      highlight=False, soft_wrap=True)
    _warn_contested(err)
    _warn_broken(err)


@click.command("list-datasets")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_datasets(as_json: bool) -> None:
    """List the data sets `data.dataset` may name: the core's and every plugin's. A name two
    plugins register is listed for each, as PLUGIN:NAME, the name that picks it."""
    datasets = get_plugins().registry.datasets
    rows = sorted(datasets.items(), key=lambda item: (item[1].plugin, item[0]))
    if as_json:
        click.echo(json.dumps([{**d.as_dict(), "name": name, "options": d.options is not None}
                               for name, d in rows], indent=2))
        return
    table = Table("name", "plugin", "labelled", "options", "summary", box=None)
    for name, d in rows:
        labelled = {True: "yes", False: "no", None: "if the files say"}[d.labelled]
        table.add_row(name, f"{d.plugin} {d.version}", labelled,
                      "yes" if d.options else "no", Text(d.summary))
    stdout_console().print(table if rows else "no data sets registered (is gen-core's plugin "
                           "loaded?)")
    _warn_broken(Console(stderr=True))


@click.command("list-trackers")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_trackers(as_json: bool) -> None:
    """List the trackers `train.trackers` may name, whether each is installed, and the command
    that installs it where it is not."""
    trackers = get_plugins().registry.trackers
    rows = sorted(trackers.items(), key=lambda item: (item[1].plugin, item[0]))
    if as_json:
        click.echo(json.dumps([{**t.as_dict(), "name": name, "install": t.install}
                               for name, t in rows], indent=2))
        return
    table = Table("name", "plugin", "installed", "summary", box=None)
    for name, t in rows:
        missing = t.missing()
        installed = f"no: {t.install or 'missing ' + ', '.join(missing)}" if missing else "yes"
        table.add_row(name, f"{t.plugin} {t.version}", Text(installed), Text(t.summary))
    stdout_console().print(table if rows else "no trackers registered")
    _warn_broken(Console(stderr=True))


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--verbose", "-v", is_flag=True, help="Show the traceback of each broken plugin.")
def plugins(as_json: bool, verbose: bool) -> None:
    """List installed plugins, their versions, models, feature extractors and status."""
    records = get_plugins().records
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=2))
        return
    table = Table("plugin", "version", "status", "provides / error", box=None)
    for r in records:
        status = Text(r.status, style="red" if r.status == "broken" else "")
        table.add_row(r.name, r.version, status, Text(r.error or _provides(r)))
    stdout_console().print(table if records else "no plugins installed")
    for r in records:
        if verbose and not r.ok:
            click.echo(f"\n{r.name}:\n{r.traceback}", err=True)
    _warn_clashes(Console(stderr=True), get_plugins())


def _provides(record) -> str:
    parts = [", ".join(record.models)] if record.models else []
    if record.extractors:
        parts.append("extractors: " + ", ".join(record.extractors))
    if record.datasets:
        parts.append("data sets: " + ", ".join(record.datasets))
    if record.trackers:
        parts.append("trackers: " + ", ".join(record.trackers))
    return "; ".join(parts)


@click.command("spec")
@click.argument("name")
@click.option("--schema", is_flag=True, help="Print the JSON Schema instead of the defaults.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a field by dotted path, as `gen train --set` does, e.g. --set "
              "train.steps=200: the resolved spec is printed.")
def spec(name: str, schema: bool, overrides: tuple[str, ...]) -> None:
    """Print NAME's complete default spec (valid input to `gen train --spec`), or with --set
    the spec those overrides resolve to. NAME may be PLUGIN:MODEL where two plugins register
    MODEL."""
    if schema and overrides:
        raise UsageError("--set does not apply to --schema: the schema is the same for every "
                         "spec")
    spec_class = get_plugins().registry.get(name).spec_class()
    if schema:
        data = specs.json_schema(spec_class)
    else:
        data = specs.validate(spec_class, {}, overrides).model_dump(mode="json")
    click.echo(json.dumps(data, indent=2))


commands = (list_models, list_datasets, list_trackers, plugins, spec)
