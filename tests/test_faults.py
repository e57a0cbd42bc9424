"""Faults and bad input (docs/robustness.md): every user mistake and every fault ends in a short
message naming the problem, a non-zero exit and nothing lost.

Commands run in-process with ``catch_exceptions=False``: an exception that is not a
`gen.GenError` (what the CLI prints as a traceback) fails the test. Cases proven elsewhere are
listed in docs/robustness.md with their tests; these are the rest.
"""

import errno
import hashlib
import json
import os
import shutil
import types
from importlib import metadata
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import gen
import gen.plugins
from gen.cli.main import cli
from gen.data.datasets import load_dataset
from gen.errors import DataError
from gen.run.checkpoints import load_checkpoint
from gen.specs import DataSpec

CPU = ["--set", "train.device=cpu"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_fails(result, code: int, *fragments: str):
    """Exit ``code``, every fragment in the output, no traceback, and one screen at most."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert len(result.output.splitlines()) <= 20, result.output


def train(out: Path, *sets: str, name: str = "toy"):
    args = [a for s in sets for a in ("--set", s)]
    return invoke("train", name, "--out", out, "-q", *CPU, *args)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a hash of its bytes: equal snapshots, nothing lost."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_images(folder: Path, mode: str, color, count: int = 3, size=(10, 12)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new(mode, size, color).save(folder / f"{mode.replace(';', '')}-{i}.png")


# --- spec ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, sets, line", [
    ('{"train": {"steps": 3,}}', [], "malformed JSON at line 1"),
    ("[1, 2]", [], "expected a JSON object, got list"),
    ("{}", ["train.steps=many"], "  train.steps: Input should be a valid integer"),
    ("{}", ["data.channels=4"], "  data.channels: Input should be 1 or 3 (got 4)"),
])
def test_spec_mistakes_on_the_command_line_exit_2(toy_plugins, tmp_path, content, sets, line):
    spec = tmp_path / "spec.json"
    spec.write_text(content)
    result = invoke("train", "toy", "--spec", spec, *[a for s in sets for a in ("--set", s)])
    assert_fails(result, 2, f"error: invalid spec ({spec})", line)
    assert not (tmp_path / "runs").exists()


# --- data ------------------------------------------------------------------------------------


def test_image_folder_mistakes_stop_before_a_run_directory_exists(toy_plugins, tmp_path):
    folder, run = tmp_path / "images", tmp_path / "run"
    data = ["data.dataset=image-folder", f"data.root={folder}"]
    assert_fails(train(run, *data), 1, f"data.root: {folder} is not a folder of images")
    folder.mkdir()
    assert_fails(train(run, *data), 1, f"data.root: no images in {folder}")
    write_images(folder, "L", 0, count=2)
    write_images(folder, "RGB", (0, 0, 0), count=1)
    assert_fails(train(run, *data), 1,
                 "data set 'image-folder' (plugin 'gen-core'): images mix grey and colour "
                 "(item 2 (RGB-0.png) is colour, item 0 (L-0.png) grey); set data.channels to 1 "
                 "or 3")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    assert_fails(train(run, *data, "data.channels=1"), 1,
                 f"cannot read image {folder / 'broken.png'}")
    assert not run.exists()


def folder_data(folder: Path, channels=None) -> torch.Tensor:
    spec = DataSpec(dataset="image-folder", root=str(folder), image_size=4, channels=channels)
    return load_dataset(spec).images


def test_image_modes_become_grey_or_colour_and_alpha_goes_over_black(tmp_path):
    # Transparent white over black is black; half-transparent white is mid-grey.
    write_images(tmp_path / "rgba", "RGBA", (255, 255, 255, 0), count=1)
    assert folder_data(tmp_path / "rgba").shape == (1, 3, 4, 4)
    assert folder_data(tmp_path / "rgba").max() == 0
    write_images(tmp_path / "la", "LA", (255, 128), count=1)
    assert folder_data(tmp_path / "la").shape == (1, 1, 4, 4)
    assert folder_data(tmp_path / "la").unique().tolist() == [128]
    # Palette images are colour; their transparent index is black too.
    palette = Image.new("P", (10, 12), 1)
    palette.putpalette([255, 0, 0, 0, 255, 0])
    (tmp_path / "p").mkdir()
    palette.save(tmp_path / "p" / "a.png", transparency=1)
    palette.save(tmp_path / "p" / "b.png")
    images = folder_data(tmp_path / "p")
    assert images.shape == (2, 3, 4, 4)
    assert images[0].max() == 0 and images[1, 1].min() == 255
    # 16-bit grey keeps its top 8 bits instead of clipping to white.
    (tmp_path / "g16").mkdir()
    Image.fromarray(torch.full((10, 12), 1000, dtype=torch.int32).numpy().astype("uint16")).save(
        tmp_path / "g16" / "a.png")
    assert folder_data(tmp_path / "g16").unique().tolist() == [1000 >> 8]
    # data.channels converts either way: grey is repeated, colour becomes luminance.
    write_images(tmp_path / "grey", "L", 77, count=1)
    assert folder_data(tmp_path / "grey", channels=3).unique().tolist() == [77]
    write_images(tmp_path / "red", "RGB", (255, 0, 0), count=1)
    assert folder_data(tmp_path / "red", channels=1).unique().tolist() == [76]  # 0.299 * 255
    # 32-bit images have no 8-bit reading gen could guess.
    (tmp_path / "i32").mkdir()
    Image.new("I", (10, 12), 5).save(tmp_path / "i32" / "a.tif")
    with pytest.raises(DataError, match=r"a\.tif: 32-bit mode 'I' is not supported"):
        folder_data(tmp_path / "i32")


def test_evaluate_converts_a_reference_folder_to_the_runs_data_and_says_so(toy_plugins,
                                                                           tmp_path):
    run = tmp_path / "run"
    assert train(run, "train.steps=2", name="toy-density").exit_code == 0
    reference = tmp_path / "reference"
    write_images(reference, "RGBA", (200, 30, 30, 255), count=4, size=(20, 24))
    result = invoke("evaluate", run, "--metrics", "nll", "--reference", reference,
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (f"reference {reference}: images read as the run's data, 1x8x8 (converted where "
            "they differ)") in result.output
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["evaluation"]
    assert (record["images"], record["split"]) == (4, str(reference.resolve()))
    nll = ("--metrics", "nll")
    assert_fails(invoke("evaluate", run, *nll, "--reference", tmp_path / "nowhere"), 1,
                 "--reference must be 'test', 'train' or a folder of images")
    (tmp_path / "empty").mkdir()
    assert_fails(invoke("evaluate", run, *nll, "--reference", tmp_path / "empty"), 1,
                 f"data.root: no images in {tmp_path / 'empty'}")


def test_evaluate_prints_its_results_before_failing_to_record_them(toy_plugins, tmp_path,
                                                                    monkeypatch):
    run = tmp_path / "run"
    assert train(run, "train.steps=2", name="toy-density").exit_code == 0
    before = snapshot(run)

    def read_only(path, mode):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("gen.run.metrics_log.open", read_only, raising=False)
    result = invoke("evaluate", run, "--metrics", "nll", "--device", "cpu", "--limit", "10")
    assert_fails(result, 1, "nats/image", f"cannot write {run / 'metrics.jsonl'}: permission")
    assert snapshot(run) == before


# --- checkpoints -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A toy-density run with checkpoints at steps 2 and 4, trained once for this module."""
    import toy_plugin

    plugins = gen.plugins.Plugins()
    plugins.add_core()
    plugins.add(toy_plugin, "toy-plugin", "0")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gen.plugins, "_default", plugins)
        run = tmp_path_factory.mktemp("pristine") / "run"
        result = train(run, "train.steps=4", "train.checkpoint_every=2", name="toy-density")
        assert result.exit_code == 0, result.output
    return run


class Payload:
    """Unpickling this would run code (make a folder): loading must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.mkdir, (self.marker,))


def damage(kind: str, path: Path, marker: Path) -> str:
    """Damage checkpoint ``path`` as ``kind`` says; returns the message expected."""
    good = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a checkpoint\n")
    elif kind == "flipped":  # the zip directory survives, a member's bytes do not
        path.write_bytes(good[:64] + bytes(b ^ 0xFF for b in good[64:128]) + good[128:])
        return "data.pkl fails its checksum"
    elif kind == "pickled-object":
        ckpt = load_checkpoint(path)
        torch.save({**ckpt, "extra": Payload(marker)}, path)
        return "refused to load: it holds code (getattr), not only tensors and plain values"
    elif kind == "other-model":
        torch.save({**load_checkpoint(path), "model": "dcgan"}, path)
        return "is a checkpoint of 'dcgan', not 'toy-density'"
    return "not a readable checkpoint (truncated or corrupt"


@pytest.mark.parametrize("kind", ["truncated", "empty", "text", "flipped", "pickled-object",
                                  "other-model"])
def test_a_damaged_checkpoint_is_refused_by_every_command(toy_plugins, pristine, tmp_path,
                                                          kind):
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    latest = run / "checkpoints" / "latest.pt"
    latest.unlink()  # a hard link to step 4: damage a copy, not the pristine file
    shutil.copyfile(run / "checkpoints" / "step-000004.pt", latest)
    message = damage(kind, latest, tmp_path / "code-ran")
    before = snapshot(run)
    assert_fails(invoke("sample", run, "--device", "cpu"), 1, str(latest), message)
    assert_fails(invoke("evaluate", run, "--device", "cpu"), 1, str(latest), message)
    resumed = invoke("train", "toy-density", "--out", run, "--resume", "-q",
                     "--set", "train.steps=6")
    if kind == "other-model":
        message = "is of model 'dcgan', not 'toy-density'"
    assert_fails(resumed, 1, message)
    assert not (tmp_path / "code-ran").exists(), "nothing in the file was run"
    assert snapshot(run) == before, "nothing was written, nothing lost"
    result = invoke("sample", run, "--checkpoint", "2", "--device", "cpu", "-n", "4")
    assert result.exit_code == 0, "an older checkpoint still serves"


@pytest.mark.parametrize("command", [["sample"], ["evaluate"], ["train", "toy", "--resume"]])
def test_a_missing_or_foreign_run_directory_is_a_clear_error(toy_plugins, tmp_path, command):
    def run_on(folder):
        args = [*command, "--out", folder] if command[0] == "train" else [*command, folder]
        return invoke(*args)

    assert_fails(run_on(tmp_path / "nope"), 1, f"run directory {tmp_path / 'nope'} does not exist")
    assert_fails(run_on(tmp_path), 1, f"{tmp_path} is not a gen run directory (no gen run.json")
    assert os.listdir(tmp_path) == []


# --- runs ------------------------------------------------------------------------------------


@pytest.fixture
def steps_taken(monkeypatch):
    """How many training steps the toy model took (to prove a check came before any)."""
    from toy_plugin.model import Toy

    taken = []
    real = Toy.train_step
    monkeypatch.setattr(Toy, "train_step", lambda self, b: taken.append(1) or real(self, b))
    return taken


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o500 folder regardless; "
                    "test_unwritable_out_is_detected_before_the_first_step proves detection")
def test_out_inside_a_read_only_folder(toy_plugins, tmp_path, steps_taken):
    parent = tmp_path / "ro"
    parent.mkdir(mode=0o500)
    try:
        assert_fails(train(parent / "run", "train.steps=2"), 1,
                     f"cannot write to run directory {parent / 'run'}: Permission denied")
    finally:
        parent.chmod(0o700)
    assert steps_taken == [] and os.listdir(parent) == []


def test_unwritable_out_is_detected_before_the_first_step(toy_plugins, tmp_path, monkeypatch,
                                                          steps_taken):
    real = Path.write_text

    def refuse_probes(self, *args, **kwargs):  # what a read-only folder does, even to root
        if self.name.startswith(".write-test-"):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", refuse_probes)
    run = tmp_path / "run"
    assert_fails(train(run, "train.steps=2"), 1,
                 f"cannot write to run directory {run}: Permission denied")
    assert steps_taken == [], "no training step was taken"
    assert not (run / "spec.json").exists() and not (run / "metrics.jsonl").exists()


def test_out_pointing_at_a_file(toy_plugins, tmp_path, steps_taken):
    target = tmp_path / "taken.txt"
    target.write_text("keep me")
    assert_fails(train(target, "train.steps=2"), 2, "is a file")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"train": {"out": str(target), "steps": 2, "device": "cpu"}}))
    assert_fails(invoke("train", "toy", "--spec", spec, "-q"), 2,
                 f"--out {target} is a file, not a folder")
    assert steps_taken == [] and target.read_text() == "keep me"


def test_sample_out_that_cannot_be_written(toy_plugins, pristine, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_fails(invoke("sample", pristine, "--device", "cpu", "--out", blocker / "s.png"), 1,
                 f"--out: cannot make folder {blocker}: a file is in the way")


class FillsUp:
    """A file on a disk with ``room`` bytes left: writes past it fail with ENOSPC."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, data) -> int:
        if len(data) > self.room:
            self.f.write(bytes(data)[: self.room])  # the partial bytes a full disk leaves
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_disk_full_while_saving_a_checkpoint_keeps_the_previous_one(toy_plugins, tmp_path,
                                                                    monkeypatch):
    real_save = torch.save

    def save(obj, f, *args, **kwargs):  # the real torch.save, onto a disk that fills at step 4
        if isinstance(obj, dict) and obj.get("step") == 4:
            f = FillsUp(f, room=2000)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    run = tmp_path / "run"
    checkpoints = run / "checkpoints"
    result = train(run, "train.steps=6", "train.checkpoint_every=2", "train.log_every=1")
    assert_fails(result, 1, f"cannot write {checkpoints / 'step-000004.pt'}: no space left on "
                 "device", "latest.pt is kept and still holds step 2",
                 f"gen train toy --out {run} --resume")
    assert load_checkpoint(checkpoints / "latest.pt")["step"] == 2
    assert sorted(os.listdir(checkpoints)) == ["latest.pt", "step-000002.pt"], "no temp file"

    monkeypatch.setattr(torch, "save", real_save)  # space freed
    resumed = invoke("train", "toy", "--out", run, "--resume", "-q")
    assert resumed.exit_code == 0, resumed.output
    assert load_checkpoint(checkpoints / "latest.pt")["step"] == 6
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().split("\n")
             if line]
    assert steps == [1, 2, 3, 4, 5, 6], "steps 3-4 logged before the failure are logged once"


def test_disk_full_while_logging_metrics_is_a_clear_error(toy_plugins, tmp_path, monkeypatch):
    from gen.run import metrics_log

    class FullFile:
        def __init__(self, path, mode):
            self.name = path

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

        flush = close = lambda self: None

    monkeypatch.setattr(metrics_log, "open", FullFile, raising=False)
    run = tmp_path / "run"
    result = train(run, "train.steps=4", "train.checkpoint_every=2", "train.log_every=1")
    assert_fails(result, 1, f"cannot write {run / 'metrics.jsonl'}: no space left on device")


# --- plugins ---------------------------------------------------------------------------------


def add_fake_plugin(plugins, name: str, **hooks):
    """A plugin module made on the fly, added as if installed."""
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, gen.hookimpl(fn))
    return plugins.add(module, name)


def registers(*names):
    def gen_register_models(register):
        for name in names:
            register(name=name, kind="adversarial", summary="", spec="m:S", model="m:M")

    return gen_register_models


@pytest.mark.parametrize("hooks, why", [
    ({"gen_register_models": registers("toy:x", "other")},
     "plugin 'bad-plugin': model name 'toy:x' may not contain ':' (it separates plugin and name)"),
    ({"gen_register_model": registers("other")},
     "unknown hook (misspelled?): unknown hook 'gen_register_model' in plugin"),
])
def test_a_broken_plugin_is_named_and_the_cli_keeps_working(toy_plugins, hooks, why):
    add_fake_plugin(toy_plugins, "bad-plugin", **hooks)
    result = invoke("list-models")
    assert result.exit_code == 0 and "toy-density" in result.output
    assert f"warning: plugin bad-plugin is broken: {why}" in " ".join(result.output.split())
    models = [m["name"] for m in json.loads(invoke("list-models", "--json").output)]
    assert models == ["toy", "toy-density", "toy-vae"], "the broken plugin registers nothing"
    record = json.loads(invoke("plugins", "--json").output)[-1]
    assert record["status"] == "broken" and why in record["error"]


def test_gen_disable_plugins_turns_an_installed_plugin_off_by_name(monkeypatch):
    """An installed plugin is faked as an entry point (discovery is real); disabled by name, it
    is listed as such and its models are unknown."""
    toy = metadata.EntryPoint(name="toy-plugin", value="toy_plugin", group="gen")
    monkeypatch.setattr(metadata, "entry_points", lambda **kwargs: [toy])
    monkeypatch.delenv("GEN_PLUGINS", raising=False)
    monkeypatch.setattr(gen.plugins, "_default", None)
    assert "toy-density" in invoke("list-models").output
    monkeypatch.setenv("GEN_DISABLE_PLUGINS", "toy-plugin")
    monkeypatch.setattr(gen.plugins, "_default", None)
    records = {r["name"]: r for r in json.loads(invoke("plugins", "--json").output)}
    assert records["toy-plugin"]["status"] == "disabled"
    assert_fails(invoke("train", "toy", "-q"), 2, "unknown model 'toy'",
                 "Plugin 'toy-plugin' is disabled by GEN_DISABLE_PLUGINS")
