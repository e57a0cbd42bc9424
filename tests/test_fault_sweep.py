"""The fault sweep: for every command, hypothesis mutates what the command reads (the run's files,
a checkpoint's bytes and fields, the environment, the command line) and the invariants of
docs/robustness.md must hold: an exit code from the table, no exception escaping as a
traceback, no file of the run changed unless the command writes it (and then only on success),
and nothing executed from a checkpoint.

Examples per command: $GEN_SWEEP_EXAMPLES (default 40, half that for the data sets: a CI-sized
run of about a minute);
`GEN_SWEEP_EXAMPLES=3000 GEN_SWEEP_LOG=sweep.txt pytest tests/test_fault_sweep.py` is a long
run that also counts its examples, by test and exit code, in sweep.txt.
"""

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sweep_runs import CPU, invoke, pristine_runs, toy_plugin_set

import gen.plugins

EXAMPLES = int(os.environ.get("GEN_SWEEP_EXAMPLES", "40"))
LOG = os.environ.get("GEN_SWEEP_LOG")  # a file to append one line per example to
EXIT_CODES = {0, 1, 2, 130}
SWEEP = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 40,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])
# Data sets are read whole for every example: half as many of those.
SWEEP_DATA = settings(SWEEP, max_examples=max(1, EXAMPLES // 2))
MARKER = Path(tempfile.gettempdir()) / f"gen-sweep-ran-{os.getpid()}"


class Payload:
    """Unpickling this would create MARKER: a checkpoint must never run it."""

    def __reduce__(self):
        return (Path.touch, (MARKER,))


# --- what the sweep draws --------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)
deep_json = st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth)
odd_values = (st.integers(-2**65, 2**65).map(str) | st.text(max_size=30)
              | st.sampled_from(["0", "-1", "1e999", "nan", "∞", "ßtep", "", " ", "latest",
                                 "best", "all", "3,5", "0,99", "1.5"]))
# Mostly usable values, so the sweep gets past the command line into the files.
cli_values = st.integers(1, 40).map(str) | st.integers(1, 40).map(str) | odd_values


def _not_huge(text: str) -> bool:
    try:
        return float(text) < 1000
    except (ValueError, OverflowError):
        return True


# For settings that are amounts of work (steps, images): a huge one is legitimate, just longer
# than a sweep can wait for.
work_values = st.integers(-5, 12).map(str) | odd_values.filter(_not_huge)
# Values the trainer puts in a checkpoint, and others that `weights_only` loading accepts.
safe_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=10) | st.builds(torch.zeros, st.integers(0, 3)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)


@st.composite
def file_damage(draw, names: list[str]):
    """(file name in the run, how to damage it)."""
    name = draw(st.sampled_from(names))
    kind = draw(st.sampled_from(["truncate", "flip", "bytes", "json", "deep-json", "delete"]
                                + (["ckpt-key", "ckpt-drop", "ckpt-code"]
                                   if name.endswith(".pt") else [])))
    if kind == "truncate":
        return name, kind, draw(st.floats(0, 1))
    if kind == "flip":
        return name, kind, draw(st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)),
                                         min_size=1, max_size=8))
    if kind == "bytes":
        return name, kind, draw(st.binary(max_size=200))
    if kind == "json":
        return name, kind, json.dumps(draw(json_values))
    if kind == "deep-json":
        return name, kind, draw(deep_json)
    if kind == "ckpt-key":
        return name, kind, (draw(st.sampled_from(["step", "model", "spec", "state", "data",
                                                  "rng", "runtime", "data_info", "format"])),
                            draw(safe_values))
    if kind == "ckpt-drop":
        return name, kind, draw(st.sampled_from(["step", "model", "spec", "state", "data",
                                                 "rng", "runtime", "data_info"]))
    return name, kind, None


def damage(run: Path, how) -> None:
    name, kind, arg = how
    path = run / name
    if kind == "delete":
        path.unlink(missing_ok=True)
        return
    good = path.read_bytes() if path.exists() else b""
    if kind == "truncate":
        data = good[: int(len(good) * arg)]
    elif kind == "flip":
        data = bytearray(good)
        for where, mask in arg:
            if data:
                data[min(len(data) - 1, int(where * len(data)))] ^= mask
        data = bytes(data)
    elif kind in ("bytes",):
        data = arg
    elif kind in ("json", "deep-json"):
        data = arg.encode()
    else:
        ckpt = torch.load(io.BytesIO(good), weights_only=True)
        if kind == "ckpt-key":
            ckpt[arg[0]] = arg[1]
        elif kind == "ckpt-drop":
            ckpt.pop(arg, None)
        else:
            ckpt["extra"] = Payload()
        path.unlink()  # latest.pt is a hard link: replace it, never write through it
        torch.save(ckpt, path)
        return
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugins():
    return toy_plugin_set()


@pytest.fixture(scope="module")
def pristine(plugins, tmp_path_factory):
    """One run of each toy family (checkpoints at steps 2 and 4) and a lenet cache."""
    return pristine_runs(tmp_path_factory.mktemp("pristine"), plugins, "--set", "train.steps=4",
                         "--set", "train.checkpoint_every=2")


@pytest.fixture
def world(plugins, pristine, monkeypatch, tmp_path):
    """A fresh copy of the pristine runs for each example (under pytest's own temporary folder,
    which it prunes), and the CLI's plugin set."""
    monkeypatch.setattr(gen.plugins, "_default", plugins)

    def copy(name: str) -> Path:
        target = Path(tempfile.mkdtemp(dir=tmp_path)) / name
        shutil.copytree(pristine / name, target)
        return target

    yield copy, pristine
    MARKER.unlink(missing_ok=True)




def evaluate_writes(changed: set[str]) -> bool:
    """What `gen evaluate` may change in a run: its scores, appended to metrics.jsonl and
    written by the default tracker (TensorBoard) into tensorboard/."""
    return "metrics.jsonl" in changed and all(
        c == "metrics.jsonl" or c.startswith("tensorboard") for c in changed)


def check(result, run: Path | None = None, before=None, writes=lambda changed: False):
    """The invariants: a documented exit code, no exception but SystemExit, nothing run from a
    checkpoint, and the run unchanged unless the command succeeded and writes there."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"exit {result.exit_code}, output:\n{result.output}") \
            from result.exception
    assert result.exit_code in EXIT_CODES, result.output
    assert "Traceback" not in result.output, result.output
    if LOG:  # a long run's count of examples, by command and exit code
        with open(LOG, "a") as f:
            f.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]} "
                    f"{result.exit_code}\n")
    assert not MARKER.exists(), "code in a checkpoint was run"
    if run is not None and before is not None:
        after = snapshot(run) if run.exists() else {}
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        if changed:
            assert result.exit_code == 0 and writes(changed), (
                f"exit {result.exit_code} changed {sorted(changed)}:\n{result.output}")


RUN_FILES = ["spec.json", "run.json", "metrics.jsonl", "checkpoints/latest.pt",
             "checkpoints/step-000004.pt"]


# --- the sweep -------------------------------------------------------------------------------


@SWEEP
@given(how=file_damage(RUN_FILES), seed=cli_values, n=cli_values, which=cli_values)
def test_sample_survives_any_damage(world, how, seed, n, which):
    copy, _ = world
    run = copy("toy")
    damage(run, how)
    before = snapshot(run)
    result = invoke("sample", run, "--device", "cpu", "-n", n if n.strip() else "4",
                    "--seed", seed, "--checkpoint", which)
    check(result, run, before, writes=lambda changed: all(c.startswith("samples/")
                                                          for c in changed))


@SWEEP
@given(how=file_damage(RUN_FILES), metric=st.sampled_from(["nll", "elbo", "fid", "kid",
                                                           "precision", "probe", "nll,fid"]),
       # -n images are generated: a huge -n is legitimate work (memory stays bounded), just
       # longer than a sweep can wait for
       n=st.integers(-5, 3000).map(str) | st.text(max_size=8), limit=cli_values,
       batch=cli_values)
def test_evaluate_survives_any_damage(world, how, metric, n, limit, batch, monkeypatch):
    copy, pristine = world
    monkeypatch.setenv("GEN_CACHE", str(pristine / "cache"))
    run = copy("toy-density" if metric != "fid" else "toy")
    damage(run, how)
    before = snapshot(run)
    result = invoke("evaluate", run, "--device", "cpu", "--metrics", metric, "-n", n,
                    "--limit", limit, "--batch-size", batch)
    check(result, run, before, writes=evaluate_writes)


@SWEEP
@given(how=file_damage(RUN_FILES), split=st.sampled_from(["test", "train"]), limit=cli_values)
def test_encode_survives_any_damage(world, how, split, limit):
    copy, _ = world
    run = copy("toy-vae")
    damage(run, how)
    before = snapshot(run)
    out = run.parent / "z.npz"
    result = invoke("encode", run, "--device", "cpu", "--split", split, "--limit", limit,
                    "--out", out)
    check(result, run, before)


@SWEEP
@given(how=file_damage(RUN_FILES), steps=work_values,
       extra=st.lists(st.tuples(st.sampled_from(["train.log_every", "train.checkpoint_every",
                                                 "model.lr", "train.eval_every", "data.limit",
                                                 "train.keep_checkpoints"]), cli_values),
                      max_size=2))
def test_resume_survives_any_damage(world, how, steps, extra):
    copy, _ = world
    run = copy("toy-density")
    damage(run, how)
    before = snapshot(run)
    sets = [a for key, value in [("train.steps", steps), *extra]
            for a in ("--set", f"{key}={value}")]
    result = invoke("train", "toy-density", "--out", run, "--resume", "-q", *sets)
    check(result, run, before, writes=lambda changed: True)


@SWEEP
@given(sets=st.lists(st.sampled_from(
    ["train.steps", "train.batch_size", "train.seed", "train.device", "train.log_every",
     "train.num_samples", "train.eval_every", "train.eval_metric", "train.eval_n",
     "train.out", "data.image_size", "data.limit", "data.channels", "data.binarize",
     "data.dataset", "data.root", "model.lr", "model.latent_dim", "model", "train",
     "no.such", "model.hidden"]).flatmap(lambda key: st.tuples(st.just(key), (
         work_values if key in ("train.steps", "train.eval_n", "model.hidden",
                                "model.latent_dim", "data.image_size")
         else cli_values | json_values.map(json.dumps) | deep_json))),
    max_size=3),
    spec=st.none() | json_values.map(json.dumps) | deep_json | st.binary(max_size=50))
def test_train_survives_any_spec_and_set(world, sets, spec, tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    args = ["train", "toy", "-q", "--out", folder / "run", *CPU, "--set", "train.steps=2"]
    if spec is not None:
        (folder / "spec.json").write_bytes(spec if isinstance(spec, bytes) else spec.encode())
        args += ["--spec", folder / "spec.json"]
    args += [a for key, value in sets for a in ("--set", f"{key}={value}")]
    result = invoke(*args)
    check(result)
    outside = {p.name for p in folder.iterdir()} - {"run", "spec.json"}
    assert not outside, f"wrote {outside} outside the run folder"


@SWEEP
@given(command=st.sampled_from([["spec", "toy"], ["spec", "toy", "--schema"], ["list-models"],
                                ["list-models", "--json"], ["plugins"], ["plugins", "--json"],
                                ["spec", "toy-dencity"], ["spec", ""]]),
       plugins_env=st.text(max_size=30), disabled=st.text(max_size=30), cache=st.text(max_size=20))
def test_discovery_commands_survive_any_environment(world, command, plugins_env, disabled,
                                                    cache, monkeypatch):
    monkeypatch.setattr(gen.plugins, "_default", None)  # discovered anew from the environment
    env = {"GEN_PLUGINS": f"toy_plugin,{plugins_env}", "GEN_DISABLE_PLUGINS": disabled,
           "GEN_CACHE": cache}
    if any("\x00" in v for v in env.values()):
        return  # an environment cannot hold NUL bytes
    result = invoke(*command, env=env)
    check(result)
    if result.exit_code == 0 and ("--json" in command or command[0] == "spec"):
        json.loads(result.stdout)  # a plugin's prints never reach stdout


def test_the_sweep_catches_an_escaping_exception(world, monkeypatch):
    """The checker itself: an exception that is not a GenError fails the example."""
    copy, _ = world
    run = copy("toy")
    monkeypatch.setattr("gen.handle.Run.sample_batches",
                        lambda *a, **k: (_ for _ in ()).throw(IndexError("boom")))
    with pytest.raises(AssertionError, match="exit 1"):
        check(invoke("sample", run, "--device", "cpu"))


def image_bytes(size: tuple[int, int], mode: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, 128).save(buffer, "PNG")
    return buffer.getvalue()


@SWEEP_DATA
@given(images=st.lists(st.tuples(st.sampled_from(["L", "RGB", "RGBA", "P", "I;16"]),
                                 st.integers(1, 12), st.integers(1, 12),
                                 st.none() | st.tuples(st.floats(0, 1), st.integers(0, 255))),
                       min_size=1, max_size=4),
       junk=st.lists(st.binary(max_size=60), max_size=2),
       reference=st.booleans())
def test_image_folders_survive_any_image(world, images, junk, reference, tmp_path_factory,
                                         monkeypatch):
    """Images of every mode and size, some with a byte changed, and files of random bytes
    named .png: as training data, or as the reference folder of `gen evaluate`."""
    copy, pristine = world
    folder = tmp_path_factory.mktemp("images")
    for i, (mode, w, h, change) in enumerate(images):
        data = bytearray(image_bytes((w, h), mode))
        if change is not None:
            data[int(change[0] * (len(data) - 1))] = change[1]
        (folder / f"{i}.png").write_bytes(bytes(data))
    for i, data in enumerate(junk):
        (folder / f"junk-{i}.png").write_bytes(data)
    if reference:
        monkeypatch.setenv("GEN_CACHE", str(pristine / "cache"))
        run = copy("toy-density")
        before = snapshot(run)
        result = invoke("evaluate", run, "--device", "cpu", "--reference", folder)
        check(result, run, before, writes=evaluate_writes)
    else:
        out = folder.parent / f"{folder.name}-run"
        result = invoke("train", "toy", "-q", "--out", out, *CPU, "--set", "train.steps=1",
                        "--set", "train.batch_size=1", "--set", "data.dataset=image-folder",
                        "--set", f"data.root={folder}")
        check(result)
        assert result.exit_code == 0 or not out.exists(), "a refused run leaves no folder"


@SWEEP_DATA
@given(which=st.sampled_from(["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
       how=st.sampled_from(["truncate", "flip", "bytes", "gunzip-truncate", "count"]),
       where=st.floats(0, 1), value=st.integers(0, 255), data=st.binary(max_size=64))
def test_mnist_files_survive_any_damage(world, which, how, where, value, data,
                                        tmp_path_factory):
    import gzip

    bundled = Path(gen.plugins.__file__).parent / "data" / "bundled"
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(bundled / name, raw / name)
    path = raw / which
    good = path.read_bytes()
    if how == "truncate":
        damaged = good[: int(where * len(good))]
    elif how == "flip":
        damaged = bytearray(good)
        damaged[int(where * (len(good) - 1))] ^= value or 1
        damaged = bytes(damaged)
    elif how == "bytes":
        damaged = data
    else:
        plain = gzip.decompress(good)
        if how == "gunzip-truncate":
            plain = plain[: int(where * len(plain))]
        else:  # a header that claims another count
            plain = plain[:4] + int(where * 20000).to_bytes(4, "big") + plain[8:]
        damaged = gzip.compress(plain)
    path.write_bytes(damaged)
    out = root / "run"
    result = invoke("train", "toy", "-q", "--out", out, *CPU, "--set", "train.steps=1",
                    "--set", "data.dataset=mnist", "--set", "data.split=test",
                    "--set", f"data.root={root}")
    check(result)
    assert result.exit_code == 0 or not out.exists(), "a refused run leaves no folder"
