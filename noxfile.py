"""Sessions: `nox` runs lint and tests (what CI runs); `nox -s plugin` tests each plugin alone;
`nox -s example` tests the third-party example plugin examples/gen-infogan installed with the
core and no built-in plugin, as its author would (a venv of its own: torch again, 5.5 GB);
`nox -s bench` prints the benchmark figures."""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.error_on_missing_interpreters = True

# The pair pinned for this project (PyPI's Linux wheels of it are CUDA builds that also run on
# the CPU: about 5.5 GB in a venv, so CI makes one venv, not one per session).
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]
PLUGINS = sorted(p.name for p in Path("plugins").iterdir() if (p / "pyproject.toml").is_file())
# A plugin written only against gen's public API and docs, as a third party would write it.
EXAMPLE = "examples/gen-infogan"


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    """The core's tests, then each plugin's and the example's, against real (non-editable)
    installs, so a file missing from a package (the bundled data, say) fails here."""
    session.install(*TORCH)
    session.install(".[test]", *(f"plugins/{p}" for p in PLUGINS), EXAMPLE)
    session.run("pytest", "tests", *session.posargs)
    for plugin in PLUGINS:
        session.run("pytest", f"plugins/{plugin}/tests", *session.posargs)
    session.run("pytest", f"{EXAMPLE}/tests", *session.posargs)


@nox.session
@nox.parametrize("plugin", PLUGINS)
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin installed alone beside the core: it must not need any other plugin."""
    session.install(*TORCH)
    session.install(".[test]", f"plugins/{plugin}")
    session.run("pytest", f"plugins/{plugin}/tests", *session.posargs)


@nox.session
def example(session: nox.Session) -> None:
    """The example plugin with the core alone, no built-in plugin: what a third party who
    ran `pip install gen-core` has. Not run by default (it installs torch into a venv of its
    own); `nox -s tests` runs the same tests beside every plugin."""
    session.install(*TORCH)
    session.install(".[test]")
    session.install(EXAMPLE)
    session.run("pytest", f"{EXAMPLE}/tests", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    session.install(*TORCH)
    session.install(".", *(f"plugins/{p}" for p in PLUGINS))
    # What bench/diffusion.py and bench/prc.py compare against: the bench's dependencies,
    # never gen's.
    session.install("diffusers", "torch-fidelity")
    for script in sorted(Path("bench").glob("[!_]*.py")):
        session.run("python", str(script), *session.posargs)
