"""The boundary sweep: hypothesis gives every option of every command, every spec field a
`--set` reaches, every environment variable gen or torch.distributed reads, and the Python
API's counts and names values at their edges (boundary_values.py), and docs/robustness.md's
invariants must hold: an exit code from the table, never a traceback, and nothing written
outside what the command names (a failed command writes nothing at all, but to the cache).

The options are read from the click commands themselves and the fields from `gen spec`, so a
new option or field is swept without a change here. A legitimately huge amount of work (a
billion steps, say) is stopped as Ctrl-C would after $GEN_SWEEP_DEADLINE seconds (default 8),
and must then exit 130.

Examples per test: $GEN_SWEEP_EXAMPLES (default 40, half that per Python call; CI's short
run); `GEN_SWEEP_EXAMPLES=400 GEN_SWEEP_LOG=sweep.txt pytest tests/test_boundary_sweep.py` is a
long run, and counts its examples by test and exit code in sweep.txt; with
GEN_SWEEP_COLLECT=findings.jsonl a broken example is listed there and the sweep goes on.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from boundary_values import make_world, numbers_as_text, odd_text, path_edges, python_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sweep_runs import CPU, invoke, pristine_runs, toy_plugin_set

import gen
import gen.plugins
from gen.cli.main import cli

TESTS = Path(__file__).parent
EXAMPLES = int(os.environ.get("GEN_SWEEP_EXAMPLES", "40"))
DEADLINE = float(os.environ.get("GEN_SWEEP_DEADLINE", "8"))
LOG = os.environ.get("GEN_SWEEP_LOG")
COLLECT = os.environ.get("GEN_SWEEP_COLLECT")
EXIT_CODES = {0, 1, 2, 130}
SWEEP = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 40,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])
# Set by a launcher, by torchrun or read by gen and torch.distributed: each is swept alone.
ENV_VARS = ["GEN_PLUGINS", "GEN_DISABLE_PLUGINS", "GEN_CACHE", "GEN_STOP_FILE",
            "GEN_INCEPTION_WEIGHTS", "MLFLOW_TRACKING_URI", "RANK", "WORLD_SIZE",
            "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
            "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS",
            "TORCH_DISTRIBUTED_DEBUG", "CUDA_VISIBLE_DEVICES", "HOME"]


# --- the world each example runs in --------------------------------------------------------


@pytest.fixture(scope="module")
def plugins():
    return toy_plugin_set()


@pytest.fixture(scope="module")
def pristine(plugins, tmp_path_factory):
    """One run of each toy family and a warm cache (the lenet extractor)."""
    return pristine_runs(tmp_path_factory.mktemp("pristine"), plugins, "--set", "train.steps=2")


@pytest.fixture
def world(plugins, pristine, monkeypatch, tmp_path):
    """A fresh world per example: copies of the runs, the files `path_edges` names, its own
    home and working folder, the cache, and the toy plugin for `gen` subprocesses."""
    monkeypatch.setattr(gen.plugins, "_default", plugins)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("GEN_PLUGINS", "toy_plugin")
    root = tmp_path / "worlds"
    root.mkdir(exist_ok=True)

    def fresh() -> Path:
        w = Path(tempfile.mkdtemp(dir=root))
        make_world(w)
        for name in ("toy", "toy-density", "toy-vae"):
            shutil.copytree(pristine / name, w / "runs" / name)
        (w / "cwd").mkdir()
        shutil.copytree(pristine / "cache", w / "cache")
        monkeypatch.setenv("HOME", str(w / "home"))
        monkeypatch.setenv("GEN_CACHE", str(w / "cache"))
        monkeypatch.chdir(w / "cwd")
        return w

    return fresh


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under ``folder`` (links not followed) by kind, size and modification time
    (a folder by kind only: what changes in it shows as its own entries)."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st_ = p.lstat()
            out[str(p)] = (st_.st_mode,) if p.is_dir() and not p.is_symlink() else (
                st_.st_mode, st_.st_size, st_.st_mtime_ns)
    return out


GRACE = 20.0  # seconds a command may take to stop after each Ctrl-C


@contextmanager
def deadline(seconds: float) -> Iterator[list[int]]:
    """Ctrl-C (a real SIGINT to this process, which gen's own handlers answer as they would a
    user's) after ``seconds``; a second one `GRACE` seconds later ("stop at once"); and a
    third as a bare KeyboardInterrupt, which the caller counts as a command that would not
    stop. Yields how many were sent."""
    fired = [0]

    def interrupt(signum, frame):
        fired[0] += 1
        if fired[0] >= 3:
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds, GRACE)
    try:
        yield fired
    finally:
        # a SIGINT sent as the command ended must not reach pytest
        before = signal.signal(signal.SIGINT, lambda signum, frame: None)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGINT, before)


def run_checked(world: Path, args: list[str], env=None, allowed: tuple[Path, ...] = ()):
    """Run ``gen ARGS`` in ``world`` and check the invariants (with $GEN_SWEEP_COLLECT set, a
    broken one is appended to that file and the sweep goes on, to list every finding)."""
    before = snapshot(world)
    with deadline(DEADLINE) as fired:
        result = invoke(*args, env=env)
    try:
        assert fired[0] < 3, f"gen {_show(args)} did not stop on two Ctrl-C's"
        _check(world, args, env, allowed, before, result, fired[0] > 0)
    except AssertionError as exc:
        if not COLLECT:
            raise
        _collect(args, env, exc, result.exception)
    return result


def _collect(args, env, exc: AssertionError, cause: BaseException | None) -> None:
    import traceback

    where = ""
    if cause is not None and cause.__traceback__ is not None:
        frames = [f for f in traceback.extract_tb(cause.__traceback__) if "/gen/" in f.filename]
        last = (frames or traceback.extract_tb(cause.__traceback__))[-1]
        where = f"{type(cause).__name__}: {cause} @ {last.filename}:{last.lineno}"
    with open(COLLECT, "a") as f:
        f.write(json.dumps({"args": [a[:100] for a in map(str, args)], "env": env,
                            "where": where[:300], "check": str(exc).splitlines()[0][:600]})
                + "\n")


def _check(world, args, env, allowed, before, result, fired: bool) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"gen {_show(args)}: exit {result.exit_code}, output:\n"
                             f"{result.output[-3000:]}") from result.exception
    assert result.exit_code in EXIT_CODES, result.output
    assert result.exit_code != 130 or fired, f"130 with no interrupt:\n{result.output}"
    assert "Traceback" not in result.output, result.output
    if LOG:
        with open(LOG, "a") as f:
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
            f.write(f"{test} {result.exit_code}{' deadline' if fired else ''}\n")
    after = snapshot(world)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    # gen's cache, and matplotlib's font cache and config folder under $HOME (a library's,
    # made on its first use there)
    caches = [str(world / "cache"), str(world / "home" / ".cache"),
              str(world / "home" / ".config" / "matplotlib")]
    changed = {c for c in changed if (not any(
        c == cache or c.startswith(cache + os.sep) for cache in caches)
        and c != str(world / "home" / ".config")) or "/home/.cache/gen" in c}
    # A run that starts and then fails (a loss gone non-finite) keeps its folder: exit 1
    started = args[:1] == ["train"] and result.exit_code == 1 and "training stopped" in \
        result.output
    if result.exit_code not in (0, 130) and not started:
        assert not changed, (f"failed (exit {result.exit_code}) and changed "
                             f"{sorted(changed)[:5]}: gen {_show(args)}\n"
                             f"{result.output[-2000:]}")
    else:
        roots = [str(r) for r in (*allowed, *_named_paths(args))]
        # a named path, what is under it, or a folder made on the way to it
        outside = [c for c in changed
                   if not any(c == r or c.startswith(r.rstrip(os.sep) + os.sep)
                              or r.startswith(c + os.sep) for r in roots)]
        assert not outside, (f"wrote {sorted(outside)[:5]} that it was not asked to: gen "
                             f"{_show(args)}\n{result.output[-2000:]}")


def _named_paths(args: list[str]) -> list[Path]:
    """The paths a command line names, as gen would resolve them (a run folder, an --out)."""
    out = []
    for a in args:
        if not a or "\x00" in a:
            continue
        try:
            p = Path(a).expanduser()
            out.append(p if p.is_absolute() else Path.cwd() / p)
            out.append((p if p.is_absolute() else Path.cwd() / p).resolve())
        except (RuntimeError, OSError, ValueError):
            continue
    return out


def _show(args: list[str]) -> str:
    return " ".join(repr(a) if len(a) < 80 else repr(a[:60] + "...") for a in map(str, args))


# --- the command lines ---------------------------------------------------------------------


def base_command(command: str, w: Path) -> list[str]:
    """A valid command line of ``command`` in world ``w``, small enough to finish quickly."""
    runs = w / "runs"
    return {
        "train": ["train", "toy", "-q", "--out", str(w / "new-run"), *CPU,
                  "--set", "train.steps=2"],
        "sample": ["sample", str(runs / "toy"), "-n", "4", "--device", "cpu"],
        "evaluate": ["evaluate", str(runs / "toy-density"), "--metrics", "nll", "--limit",
                     "8", "--device", "cpu"],
        "encode": ["encode", str(runs / "toy-vae"), "--limit", "8", "--device", "cpu",
                   "--out", str(w / "z.npz")],
        "stats": ["stats", "bundled-mnist", "--out", str(w / "stats.npz"), "-n", "20",
                  "--image-size", "8", "--device", "cpu"],
        "report": ["report", str(runs / "toy"), "--out", str(w / "report.html")],
        "sweep": ["sweep", "toy", "--trials", "1", "--out", str(w / "sweep"), "--space",
                  '{"model.lr": {"log_uniform": [0.001, 0.1]}}', "--set", "train.steps=2",
                  *CPU, "--pruner", "none"],
        "spec": ["spec", "toy"],
        "list-models": ["list-models"],
        "plugins": ["plugins", "--json"],
    }[command]


COMMANDS = ["train", "sample", "evaluate", "encode", "stats", "report", "sweep", "spec"]


def _command(name: str) -> click.Command:
    return cli.commands[name]


def _spec_fields() -> dict[str, object]:
    """Every field `--set` reaches in the toy model's spec, with its default."""
    import toy_plugin

    from gen import specs

    out: dict[str, object] = {}

    def flat(d: dict, prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and v:
                flat(v, f"{prefix}{k}.")
            else:
                out[f"{prefix}{k}"] = v

    flat(specs.validate(toy_plugin.ToySpec, {}).model_dump(mode="json"), "")
    return out


SPEC_FIELDS = _spec_fields()


def value_for(param: click.Parameter, w: Path) -> st.SearchStrategy[str]:
    """Values of every kind, weighted to what ``param`` takes: numbers for numbers, paths for
    paths, and the others for each."""
    paths = path_edges(w)
    kind = type(param.type)
    if isinstance(param.type, click.Choice):
        own = st.sampled_from(list(param.type.choices))
    elif isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)) or \
            kind.__name__ == "FiniteFloat":
        own = numbers_as_text
    elif isinstance(param.type, click.Path):
        own = paths
    else:
        own = odd_text | paths
    near = plausible(param, w)
    return near | near | own | numbers_as_text | paths | odd_text


def plausible(param: click.Parameter, w: Path) -> st.SearchStrategy[str]:
    """What ``param`` might well be given: in its range and at its bounds (and one past
    them), one of its choices, a new file in the world, its default. These keep the rest of
    a command line usable, so the edge values of the others reach further than parsing."""
    t = param.type
    if isinstance(t, click.IntRange):
        low = 0 if t.min is None else t.min
        bounds = [low, low - 1] + ([] if t.max is None else [t.max, t.max + 1])
        return st.integers(low, low + 6).map(str) | st.sampled_from(bounds).map(str)
    if isinstance(t, click.FloatRange | click.types.FloatParamType) or \
            type(t).__name__ == "FiniteFloat":
        low, high = getattr(t, "min", None), getattr(t, "max", None)
        bounds = [b for b in (low, high) if b is not None]
        return st.floats(0.01, 2).map(repr) | st.sampled_from(bounds or [1.0]).map(repr)
    if isinstance(t, click.Choice):
        return st.sampled_from(list(t.choices))
    if isinstance(t, click.Path):
        return st.sampled_from([str(w / "fresh.npz"), str(w / "fresh.png"),
                                str(w / "fresh" / "deeper.npz"), str(w / "fresh-dir") + "/",
                                str(w / "runs" / "toy"), str(w / "fresh.html"),
                                str(w / "fresh-run")])
    default = param.default if isinstance(param.default, str) and param.default else "test"
    return st.just(default)


def override(w: Path) -> st.SearchStrategy[str]:
    """`--set KEY=VALUE` for any field, the value at an edge."""
    keys = st.sampled_from(sorted(SPEC_FIELDS)) | st.sampled_from(
        ["train", "model", "data", "train.lr_schedule", "", ".", "train..steps", "x" * 300])
    values = numbers_as_text | odd_text | path_edges(w) | st.sampled_from(
        ['{"decay": 2}', '{"decay": 0.9, "warmup": -1}', '{"name": "cosine"}', "[]", "{}"])
    return st.tuples(keys, values).map(lambda kv: f"{kv[0]}={kv[1]}")


@st.composite
def command_line(draw, command: str, w: Path) -> list[str]:
    """``command``'s valid line with one to three options replaced or added at an edge."""
    args = base_command(command, w)
    params = [p for p in _command(command).params if p.name != "help"]
    for _ in range(draw(st.integers(1, 3))):
        param = draw(st.sampled_from(params))
        if isinstance(param, click.Argument):
            position = 1  # every command here has its one argument first
            args[position] = draw(value_for(param, w))
            continue
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            args.append(flag)
        elif param.name == "overrides":
            args += [flag, draw(override(w))]
        else:
            args += [flag, draw(value_for(param, w))]
    return args


@pytest.mark.parametrize("command", COMMANDS)
@SWEEP
@given(data=st.data())
def test_every_option_at_its_edges(world, command, data):
    w = world()
    args = data.draw(command_line(command, w), label="args")
    if command == "train" and "--nproc" in args:
        i = len(args) - 1 - args[::-1].index("--nproc")
        if args[i + 1].strip().isdigit() and 1 < int(args[i + 1]) <= 64:
            args[i + 1] = "1"  # a real multi-process launch: tests/test_distributed.py
    allowed = (w / "cwd" / "runs", w / "cwd" / "sweeps") + ((w / "runs",) if command in (
        "sample", "evaluate", "train") else ())
    run_checked(w, args, allowed=allowed)


@SWEEP
@given(data=st.data(), var=st.sampled_from(ENV_VARS),
       command=st.sampled_from(["train", "sample", "evaluate", "list-models", "plugins"]))
def test_every_environment_variable_alone(world, data, var, command, monkeypatch):
    w = world()
    value = data.draw(numbers_as_text | odd_text | path_edges(w), label="value")
    if "\x00" in value:
        return  # an environment cannot hold NUL bytes
    if var in ("GEN_PLUGINS", "GEN_DISABLE_PLUGINS"):
        monkeypatch.setattr(gen.plugins, "_default", None)  # discovered from the environment
        if var == "GEN_PLUGINS":
            value = f"toy_plugin,{value}"
    allowed = (w / "runs", w / "new-run", Path(os.path.expanduser("~")) if var == "HOME" else
               w / "home", *(_named_paths([value]) if var == "GEN_CACHE" else ()))
    run_checked(w, base_command(command, w), env={var: value}, allowed=allowed)


# --- the Python API ------------------------------------------------------------------------


def api_calls(run: Path) -> dict[str, tuple]:
    """Each public call with the argument the sweep replaces."""
    return {
        "Run.sample": (lambda v: gen.load_run(run, device="cpu").sample(v), "n"),
        "Run.sample seed": (lambda v: gen.load_run(run, device="cpu").sample(2, seed=v), "seed"),
        "Run.sample batch_size": (
            lambda v: gen.load_run(run, device="cpu").sample(3, batch_size=v), "batch_size"),
        "Run.sample labels": (
            lambda v: gen.load_run(run, device="cpu").sample(2, labels=v), "labels"),
        "Run.sample_batches": (
            lambda v: list(gen.load_run(run, device="cpu").sample_batches(v)), "n"),
        "Run.interpolate": (
            lambda v: gen.load_run(run, device="cpu").interpolate(v), "rows"),
        "Run.interpolate steps": (
            lambda v: gen.load_run(run, device="cpu").interpolate(1, steps=v), "steps"),
        "load_run checkpoint": (lambda v: gen.load_run(run, checkpoint=v, device="cpu").step,
                                "checkpoint"),
        "load_run device": (lambda v: gen.load_run(run, device=v).model, "device"),
        "load_run path": (lambda v: gen.load_run(v).step, "path"),
        "Run.evaluate n": (lambda v: gen.load_run(run, device="cpu").evaluate(
            "fid", n=v, limit=8, record=False), "n"),
        "Run.evaluate limit": (lambda v: gen.load_run(run, device="cpu").evaluate(
            "fid", n=8, limit=v, record=False), "limit"),
        "Run.evaluate batch_size": (lambda v: gen.load_run(run, device="cpu").evaluate(
            "fid", n=8, limit=8, batch_size=v, record=False), "batch_size"),
        "Run.evaluate metrics": (lambda v: gen.load_run(run, device="cpu").evaluate(
            v, n=8, limit=8, record=False), "metrics"),
        "Run.evaluate seed": (lambda v: gen.load_run(run, device="cpu").evaluate(
            "fid", n=8, limit=8, seed=v, record=False), "seed"),
        "train overrides": (lambda v: gen.train("toy", overrides={"train.steps": v,
                                                                   "train.device": "cpu"},
                                                out=run.parent / "api-run", progress=False),
                            "train.steps"),
        "train name": (lambda v: gen.train(v, out=run.parent / "api-run2", progress=False,
                                           overrides={"train.steps": 1}), "name"),
    }


CALLS = sorted(api_calls(Path(".")))


@pytest.mark.parametrize("call", CALLS)
@settings(SWEEP, max_examples=max(1, EXAMPLES // 2))  # 17 calls: half as many each
@given(value=python_values)
def test_the_python_api_at_its_edges(world, call, value):
    """A value of any type or size gives a result or a `gen.GenError` naming the argument."""
    w = world()
    fn, name = api_calls(w / "runs" / "toy")[call]
    try:
        try:
            with deadline(DEADLINE) as fired:
                fn(value)
        except gen.GenError as exc:
            named = name.rpartition(".")[2] in str(exc) or str(value) in str(exc)
            assert named or name == "path", (
                f"{call}({value!r}): the error names neither {name} nor the value: {exc}")
        except KeyboardInterrupt:
            assert fired[0]
        except Exception as exc:
            raise AssertionError(f"{call}({value!r}) raised {type(exc).__name__}") from exc
    except AssertionError as exc:
        if not COLLECT:
            raise
        _collect([call, repr(value)], None, exc, exc.__cause__)
    if LOG:
        with open(LOG, "a") as f:
            f.write(f"test_the_python_api_at_its_edges[{call}] {type(value).__name__}\n")


def test_the_sweep_fails_on_a_traceback(world, monkeypatch):
    """The checker itself: an exception escaping a command fails the example."""
    monkeypatch.setattr(sys.modules[__name__], "COLLECT", None)
    w = world()
    monkeypatch.setattr("gen.handle.Run.sample_batches",
                        lambda *a, **k: (_ for _ in ()).throw(IndexError("boom")))
    with pytest.raises(AssertionError, match="exit 1"):
        run_checked(w, base_command("sample", w))


def test_the_sweep_fails_on_a_write_outside(world, monkeypatch):
    """The checker itself: a file written beside the run fails the example."""
    monkeypatch.setattr(sys.modules[__name__], "COLLECT", None)
    w = world()
    real = gen.handle.Run.sample_batches

    def sample_batches(self, *args, **kwargs):
        (w / "stray.txt").write_text("x")
        return real(self, *args, **kwargs)

    monkeypatch.setattr("gen.handle.Run.sample_batches", sample_batches)
    with pytest.raises(AssertionError, match=r"stray\.txt"):
        run_checked(w, base_command("sample", w))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
