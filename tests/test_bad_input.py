"""Every input is checked before it is trusted: damaged images, MNIST files and checkpoints,
foreign spec files, and the command line. Each case ends in one `error:` line naming the file
or field, the documented exit code (docs/robustness.md), and no traceback."""

import errno
import gzip
import io
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gen.cli.main import cli
from gen.errors import CheckpointError, WriteError
from gen.run.checkpoints import load_checkpoint, save_checkpoint
from gen.run.layout import RunDir

SHARED_MNIST = Path(__file__).parents[2] / "shared" / "data" / "mnist"
BUNDLED = Path(__file__).parents[1] / "core" / "gen" / "data" / "bundled"
CPU = ["--set", "train.device=cpu"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False,
                              prog_name="gen")


def assert_fails(result, code: int, *fragments: str):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "Aborted!" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert len(result.output.splitlines()) <= 20, result.output


def png(folder: Path, name: str, broken: bool = False) -> Path:
    """A small grey PNG; ``broken`` zeroes the byte Pillow reads as the first chunk's length,
    which Pillow 10-12 report as SyntaxError("broken PNG file")."""
    buffer = io.BytesIO()
    Image.new("L", (10, 12), 5).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    if broken:
        data[36] = 0
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(bytes(data))
    return folder / name


@pytest.fixture
def toy_run(toy_plugins, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "toy-density", "--out", run, "-q", *CPU, "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    return run


# --- images ----------------------------------------------------------------------------------


def test_a_broken_png_is_named_in_training_and_as_a_reference(toy_plugins, toy_run, tmp_path):
    folder = tmp_path / "images"
    png(folder, "a.png")
    bad = png(folder, "b.png", broken=True)
    result = invoke("train", "toy", "--out", tmp_path / "r", "-q", *CPU,
                    "--set", "data.dataset=image-folder", "--set", f"data.root={folder}")
    assert_fails(result, 1, f"cannot read image {bad}")
    assert not (tmp_path / "r").exists()
    result = invoke("evaluate", toy_run, "--metrics", "nll", "--reference", folder,
                    "--device", "cpu")
    assert_fails(result, 1, f"cannot read image {bad}")


def test_any_exception_pillow_raises_on_bad_bytes_is_a_data_error(tmp_path, monkeypatch):
    from gen.data.sources import folder
    from gen.errors import DataError

    path = png(tmp_path, "a.png")

    def broken(*args, **kwargs):
        raise SyntaxError("broken PNG file (chunk b'\\x00\\x00')")

    monkeypatch.setattr(Image, "open", broken)
    with pytest.raises(DataError, match=rf"cannot read image {path}: SyntaxError: broken PNG"):
        folder.read_image(path, None)


def test_loose_images_beside_class_folders_are_reported(toy_plugins, tmp_path):
    folder = tmp_path / "images"
    for name in ("a.png", "b.png"):
        png(folder / "cats", name)
        png(folder / "dogs", name)
    png(folder, "stray.png")
    result = invoke("train", "toy", "--out", tmp_path / "r", "-q", *CPU, "--set", "train.steps=1",
                    "--set", "train.batch_size=2", "--set", "data.dataset=image-folder",
                    "--set", f"data.root={folder}")
    assert result.exit_code == 0, result.output
    assert (f"warning: data.root: 1 images directly in {folder} (e.g. stray.png) are left out: "
            "with class sub-folders (cats, dogs) only their images are read") in result.output


# --- MNIST files -----------------------------------------------------------------------------


def mnist_root(tmp_path: Path, images: bytes, labels: bytes) -> Path:
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(images)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(labels)
    return tmp_path / "data"


def train_mnist(root: Path, out: Path):
    return invoke("train", "toy", "--out", out, "-q", *CPU, "--set", "data.dataset=mnist",
                  "--set", "data.split=test", "--set", f"data.root={root}")


@pytest.fixture
def mnist_files():
    folder = SHARED_MNIST if SHARED_MNIST.is_dir() else BUNDLED
    return ((folder / "t10k-images-idx3-ubyte.gz").read_bytes(),
            (folder / "t10k-labels-idx1-ubyte.gz").read_bytes())


def test_a_truncated_mnist_gz_is_named_not_aborted(toy_plugins, tmp_path, mnist_files):
    images, labels = mnist_files
    root = mnist_root(tmp_path, images[: len(images) // 2], labels)
    result = train_mnist(root, tmp_path / "r")
    assert_fails(result, 1, f"{root / 'MNIST' / 'raw' / 't10k-images-idx3-ubyte.gz'}: not a "
                 "readable gzip file")
    assert not (tmp_path / "r").exists()


def test_swapped_or_mismatched_mnist_files_are_refused_before_training(toy_plugins, tmp_path,
                                                                       mnist_files):
    images, labels = mnist_files
    swapped = mnist_root(tmp_path / "a", labels, images)
    assert_fails(train_mnist(swapped, tmp_path / "r"), 1, "are the two files swapped?")
    raw = gzip.decompress(labels)
    fewer = raw[:4] + (9999).to_bytes(4, "big") + raw[8:-1]  # a consistent file of 9999
    short = mnist_root(tmp_path / "b", images, gzip.compress(fewer))
    assert_fails(train_mnist(short, tmp_path / "r"), 1, "holds 10000 images but",
                 "9999 labels; each image needs one label")
    assert not (tmp_path / "r").exists()


# --- run files -------------------------------------------------------------------------------


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{not utf-8", "cannot read"),
    (b"[1, 2]", "expected a JSON object, got list"),
])
def test_a_spec_json_that_is_not_a_json_object_is_named(toy_run, content, message):
    (toy_run / "spec.json").write_bytes(content)
    for command in (["sample", toy_run], ["evaluate", toy_run], ["encode", toy_run, "--out",
                                                                 toy_run / "z.npz"]):
        assert_fails(invoke(*command), 1, f"{toy_run / 'spec.json'}", message)


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("step"), "'step' must be a whole number >= 0, got None"),
    (lambda c: c.update(step="3"), "'step' must be a whole number >= 0, got '3'"),
    (lambda c: c.update(step=True), "'step' must be a whole number >= 0, got True"),
    (lambda c: c.update(runtime=[]), "'runtime' must be a dict, got list"),
    (lambda c: c.update(state=7), "'state' must be a dict, got int"),
])
def test_a_checkpoint_with_fields_of_the_wrong_type_is_refused(toy_plugins, toy_run, change,
                                                               message):
    latest = toy_run / "checkpoints" / "latest.pt"
    ckpt = load_checkpoint(latest)
    change(ckpt)
    latest.unlink()
    torch.save(ckpt, latest)
    for command in (["sample", toy_run, "--device", "cpu"],
                    ["train", "toy-density", "--out", toy_run, "--resume", "-q"]):
        assert_fails(invoke(*command), 1, f"{latest}: not a usable gen checkpoint: {message}")


def test_a_checkpoint_that_would_run_os_system_says_it_holds_code(toy_plugins, toy_run,
                                                                   tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    latest = toy_run / "checkpoints" / "latest.pt"
    ckpt = load_checkpoint(latest)
    latest.unlink()
    torch.save({**ckpt, "extra": Payload()}, latest)
    with pytest.raises(CheckpointError, match=r"holds code \((posix|nt)\.system\), not only "
                                              r"tensors and plain values; nothing in it was run"):
        load_checkpoint(latest)
    assert_fails(invoke("sample", toy_run, "--device", "cpu"), 1, "holds code")
    assert not marker.exists()


def test_the_resume_hint_quotes_a_path_that_needs_it(tmp_path, monkeypatch):
    import gen.run.checkpoints as checkpoints

    run = RunDir(tmp_path / "my runs" / "it's")
    run.checkpoints.mkdir(parents=True)
    (run.checkpoints / "step-000002.pt").write_bytes(b"")  # a checkpoint to resume from

    def full(path, write):
        raise WriteError(path, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(checkpoints, "atomic_write", full)
    with pytest.raises(CheckpointError) as err:
        save_checkpoint(run, 4, {"model": "toy"}, keep=None)
    quoted = "'" + str(run.root).replace("'", "'\"'\"'") + "'"
    assert f"`gen train toy --out {quoted} --resume`" in str(err.value)


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--out", "x.jpg"], "error: --out must end in .png (a grid) or .npz"),
    (["--checkpoint", "abc"], "error: --checkpoint must be 'best', 'latest' or a step number"),
    (["-n", "abc"], "error: Invalid value for '-n': 'abc' is not a valid integer range."),
    (["--labels", "0"], "error: --labels needs a conditional model"),
])
def test_command_line_mistakes_exit_2_with_one_error_line(toy_run, args, message):
    result = invoke("sample", toy_run, "--device", "cpu", *args)
    assert_fails(result, 2, message)
    assert "Error:" not in result.output


def test_encode_out_of_the_wrong_kind_is_an_error_line_too(toy_run):
    result = invoke("encode", toy_run, "--out", "x.jpg")
    assert_fails(result, 2, "error: Invalid value for --out: must end in .npz, got 'x.jpg'",
                 "Try 'gen encode --help' for help.")
    assert "Error:" not in result.output


def test_ctrl_c_outside_training_exits_130(toy_run, monkeypatch):
    import gen.handle

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gen.handle.Run, "sample_batches", interrupted)
    assert_fails(invoke("sample", toy_run, "--device", "cpu"), 130, "error: interrupted")


# --- found by the fault sweep (tests/test_fault_sweep.py) --------------------------------------

DEEP = "[" * 5000 + "]" * 5000  # deeper than Python's recursion limit


def test_json_nested_too_deeply_is_an_error_not_a_recursion_error(toy_plugins, toy_run,
                                                                   tmp_path):
    spec = tmp_path / "deep.json"
    spec.write_text(DEEP)
    assert_fails(invoke("train", "toy", "--spec", spec, "--out", tmp_path / "r"), 2,
                 f"invalid spec ({spec})", "JSON nested too deeply")
    assert_fails(invoke("train", "toy", "--set", f"model.hidden={DEEP}", "--out",
                        tmp_path / "r"), 2, "model.hidden: JSON nested too deeply")
    nested = json.dumps({"model": {"hidden": json.loads("[" * 900 + "]" * 900)}})
    spec.write_text(nested)  # parses, but copying or validating it goes deeper still
    assert_fails(invoke("train", "toy", "--spec", spec, "--out", tmp_path / "r"), 2,
                 f"invalid spec ({spec})")
    (toy_run / "spec.json").write_text(DEEP)
    assert_fails(invoke("sample", toy_run, "--device", "cpu"), 1,
                 f"cannot read {toy_run / 'spec.json'}: JSON nested too deeply")
    assert not (tmp_path / "r").exists()


def test_the_stopped_run_hint_quotes_its_folder(tmp_path, toy_env):
    import shlex
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "my runs" / "it's"
    proc = subprocess.Popen([sys.executable, "-m", "gen", "train", "toy", "-q", "--out", str(run),
                             "--set", "train.device=cpu", "--set", "train.steps=1000000",
                             "--set", "train.log_every=5"],
                            env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").stat().st_size:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"`gen train toy --out {shlex.quote(str(run))} --resume`" in err


def test_a_spec_json_edited_after_training_is_refused_by_readers(toy_plugins, tmp_path):
    """A flipped byte turned data.image_size 8 into 9: the model (built from the checkpoint)
    and the data (read through spec.json) no longer fit."""
    run = tmp_path / "run"
    assert invoke("train", "toy-vae", "--out", run, "-q", *CPU,
                  "--set", "train.steps=2").exit_code == 0
    spec = json.loads((run / "spec.json").read_text())
    spec["data"]["image_size"] = 9
    (run / "spec.json").write_text(json.dumps(spec))
    message = ("no longer matches the spec", "data.image_size is 9 in spec.json, but the run "
               "was trained with 8", "Put the trained values back in spec.json")
    assert_fails(invoke("encode", run, "--device", "cpu", "--out", tmp_path / "z.npz"), 1,
                 *message)
    assert_fails(invoke("sample", run, "--device", "cpu", "--reconstruct"), 1, *message)
    assert not (tmp_path / "z.npz").exists()
