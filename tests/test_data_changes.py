"""Data that changes under a run (issue 25, items 5-8): a resumed run compares its data with
its checkpoint's (other classes: an error naming both lists; other images or files: one
warning line), an empty data.root is refused, labels that are ids are refused before anything
is sized by them, and Pillow's decompression-bomb guard speaks as gen."""

import json
import os
import types
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import gen
from gen.cli.main import cli
from gen.data.changes import check_channels, check_resumed
from gen.data.request import MAX_CLASSES
from gen.data.source import open_source
from gen.data.sources.folder import read_image
from gen.data.storage import training_data
from gen.errors import DataError, GenWarning
from gen.run.checkpoints import load_checkpoint
from gen.specs import DataSpec, TrainSpec

CPU = ["--set", "train.device=cpu", "--set", "train.steps=2", "--set", "train.batch_size=2",
       "--set", "train.num_samples=4", "--set", "data.image_size=8"]


@pytest.fixture(autouse=True)
def cache(gen_cache, toy_plugins):
    return gen_cache


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False,
                              prog_name="gen")


def png(path: Path, size=(8, 8), value=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)
    return path


def folder(root: Path, classes=("a", "b"), per_class=2) -> Path:
    for c in classes:
        for i in range(per_class):
            png(root / c / f"{i}.png", value=40 * i + 10)
    return root


def train(run: Path, data: Path, *extra: str, model="toy"):
    return invoke("train", model, "--out", run, "-q", *CPU, "--set", "data.dataset=image-folder",
                  "--set", f"data.root={data}", *extra)


def resume(run: Path, steps: int, model="toy"):
    return invoke("train", model, "--out", run, "-q", "--resume", "--set", "train.device=cpu",
                  "--set", f"train.steps={steps}")


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning:")]


# --- item 5: the data of a resumed run -----------------------------------------------------------


def test_a_renamed_class_folder_on_resume_is_an_error_naming_both_lists(tmp_path):
    data, run = folder(tmp_path / "images"), tmp_path / "run"
    assert train(run, data).exit_code == 0
    before = tree(run)
    (data / "a").rename(data / "z")
    result = resume(run, 4)
    assert result.exit_code == 1, result.output
    assert ("its classes are not those the run was trained on: the run was trained on 2 classes "
            "[a, b]; the data now has 2 classes [b, z] (new: z; gone: a)") in result.output
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
    assert tree(run) == before, "run.json (its classes) and everything else untouched"


def test_an_added_class_folder_is_named_not_a_size_mismatch(tmp_path, toy_plugins):
    import toy_plugin.iterative  # a conditional model: a row of weights per class

    assert toy_plugins.add(toy_plugin.iterative, "toy-iterative-plugin", "0").ok
    data, run = folder(tmp_path / "images"), tmp_path / "run"
    assert train(run, data, model="toy-iterative-cond").exit_code == 0
    folder(data, classes=("c",))
    result = resume(run, 4, model="toy-iterative-cond")
    assert result.exit_code == 1, result.output
    assert "[a, b]; the data now has 3 classes [a, b, c] (new: c)" in result.output
    assert "size mismatch" not in result.output and len(result.output.splitlines()) == 1


def test_added_images_or_changed_files_are_one_warning_and_the_run_goes_on(tmp_path):
    data, run = folder(tmp_path / "images"), tmp_path / "run"
    assert train(run, data).exit_code == 0
    recorded = json.loads((run / "run.json").read_text())["data"]["fingerprint"]
    assert recorded and load_checkpoint(run / "checkpoints" / "latest.pt")["data_info"][
        "fingerprint"] == recorded
    png(data / "a" / "new.png")
    result = resume(run, 4)
    assert result.exit_code == 0, result.output
    assert warnings_in(result.output) == [
        "warning: data: data set 'image-folder' (plugin 'gen-core') has 5 images, 4 when the "
        "run's checkpoint was written; the run goes on with them (its batches differ from an "
        "uninterrupted run's)"]
    info = json.loads((run / "run.json").read_text())["data"]
    assert info["num_images"] == 5 and info["fingerprint"] != recorded
    png(data / "b" / "0.png", value=200)  # the same names and count, another file
    stat = (data / "b" / "0.png").stat()
    os.utime(data / "b" / "0.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    result = resume(run, 6)
    assert result.exit_code == 0, result.output
    assert [w[:60] for w in warnings_in(result.output)] == [
        "warning: data: the files of data set 'image-folder' (plugin "]
    assert "(the same 5 images, but names, sizes or modification times differ)" in result.output
    result = resume(run, 8)
    assert result.exit_code == 0 and not warnings_in(result.output), "unchanged: no warning"


def source_of(classes=None, num_classes=None, size=4, fingerprint="f"):
    spec = types.SimpleNamespace(name="npz", plugin="gen-core")
    return types.SimpleNamespace(what="data set 'npz' (plugin 'gen-core')", size=size,
                                 classes=classes, num_classes=num_classes, info=spec,
                                 digest=fingerprint)


def trained(**data):
    return {"name": "npz", "channels": 1, "image_size": 8, "num_classes": None, "num_images": 4,
            "binary": False, "classes": None, "fingerprint": "f", **data}


@pytest.mark.parametrize("before, now, message", [
    ({"num_classes": 10}, {"num_classes": 12},
     "trained on 10 classes (labels 0..9); the data now has 12 classes (labels 0..11). Its "),
    ({}, {"num_classes": 3, "classes": ["x", "y", "w"]},
     "trained on unlabelled images; the data now has 3 classes [x, y, w]. Its labels"),
    ({"num_classes": 2, "classes": ["a", "b"]}, {"num_classes": 2, "classes": ["b", "a"]},
     "[a, b]; the data now has 2 classes [b, a] (the same names, in another order)"),
])
def test_other_classes_are_an_error_for_any_data_set(before, now, message):
    with pytest.raises(DataError) as err:
        check_resumed(trained(**before), source_of(**now))
    assert message in str(err.value)
    check_resumed(trained(**now), source_of(**now))  # the same: nothing


def test_a_checkpoint_without_a_fingerprint_and_other_processes_stay_quiet(recwarn):
    check_resumed(trained(fingerprint=None), source_of(fingerprint="g"))
    check_resumed(trained(), source_of(size=9), warn=False)
    assert not recwarn.list
    with pytest.warns(GenWarning, match="has 9 images, 4 when"):
        check_resumed(trained(), source_of(size=9))


def test_images_of_other_channels_are_an_error(tmp_path):
    with pytest.raises(DataError, match=r"its images are now colour \(3 channels\), but the run "
                                        r"was trained on grey \(1 channel\) images"):
        check_channels(trained(), 3, source_of())
    check_channels(trained(), 1, source_of())


def test_training_data_compares_a_resumed_runs_data_before_decoding_it(tmp_path, monkeypatch):
    data = folder(tmp_path / "images")
    spec = DataSpec(dataset="image-folder", root=str(data), image_size=8, workers=0)
    info, _ = training_data(spec, TrainSpec(batch_size=2), torch.device("cpu"), None, print)
    assert info.fingerprint is not None and info.classes == ("a", "b")
    (data / "b").rename(data / "c")
    import gen.data.storage as storage

    monkeypatch.setattr(storage, "load_source", lambda *a: pytest.fail("decoded first"))
    with pytest.raises(DataError, match=r"\[a, b\]; the data now has 2 classes \[a, c\]"):
        training_data(spec, TrainSpec(batch_size=2), torch.device("cpu"), None, print,
                      trained=info.as_dict())


# --- item 6: an empty data.root ------------------------------------------------------------------


@pytest.mark.parametrize("dataset, hint", [
    ("image-folder", "is empty; name a folder ('.' for the current one)"),
    ("bundled-mnist", "leave it out for the default, ~/.cache/gen/data"),
])
def test_an_empty_data_root_is_a_spec_error(tmp_path, dataset, hint):
    result = invoke("train", "toy", "--out", tmp_path / "run", *CPU,
                    "--set", f"data.dataset={dataset}", "--set", "data.root=")
    assert result.exit_code == 2, result.output
    assert "data.root:" in result.output and hint in result.output
    assert not (tmp_path / "run").exists()
    with pytest.raises(pydantic.ValidationError, match="is empty"):
        DataSpec(dataset=dataset, root="  ")


# --- item 7: labels that are ids -----------------------------------------------------------------


def test_npz_labels_that_are_ids_are_refused_naming_the_largest(tmp_path):
    path = tmp_path / "ids.npz"
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8),
             labels=np.array([7, 2_000_000, 31, 7]))
    spec = DataSpec(dataset="npz", root=str(path), image_size=8)
    with pytest.raises(DataError) as err:
        open_source(spec)
    message = str(err.value)
    assert "holds the label 2,000,000, which would make 2,000,001 classes" in message
    assert "numpy.unique(labels, return_inverse=True)[1]" in message
    result = invoke("train", "toy", "--out", tmp_path / "run", *CPU,
                    "--set", "data.dataset=npz", "--set", f"data.root={path}")
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1, result.output
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8),
             labels=np.array([0, 1, 2, MAX_CLASSES - 1]))
    assert open_source(spec).num_classes == MAX_CLASSES


class _ManyClasses(torch.utils.data.Dataset):
    num_classes = MAX_CLASSES + 1

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return torch.zeros(1, 8, 8, dtype=torch.uint8), 0


def build_many_classes(request):
    return _ManyClasses()


def test_a_data_set_declaring_too_many_classes_is_refused(toy_plugins):
    class Plugin:
        @gen.hookimpl
        def gen_register_datasets(self, register):
            register(name="many", summary="too many classes", dataset=f"{__name__}:"
                     "build_many_classes")

    assert toy_plugins.add(Plugin(), "many-plugin").ok
    with pytest.raises(DataError, match=r"plugin 'many-plugin'.*num_classes is 100,001, over "
                                        r"the 100,000 classes gen takes"):
        open_source(DataSpec(dataset="many"))


# --- item 8: Pillow's decompression-bomb guard ---------------------------------------------------


@pytest.fixture
def small_limit(monkeypatch):
    """Pillow's pixel limit at 100: a 12x10 image is over it, a 15x15 one over twice it."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)


def test_an_image_over_pillows_limit_is_one_warning_line_naming_it(tmp_path, small_limit,
                                                                   capfd):
    data = tmp_path / "images"
    big = png(data / "big.png", (12, 10))  # item 0: also what the storage choice reads first
    png(data / "small.png")
    result = invoke("train", "toy", "--out", tmp_path / "run", "-q", *CPU,
                    "--set", "data.dataset=image-folder", "--set", f"data.root={data}",
                    "--set", "data.workers=2")
    assert result.exit_code == 0, result.output
    assert warnings_in(result.output) == [
        f"warning: image {big} is 12x10 (120 pixels), over Pillow's limit against decompression "
        "bombs (PIL.Image.MAX_IMAGE_PIXELS = 100); read anyway: leave it out if it is not an "
        "image you meant"]
    assert "DecompressionBombWarning" not in capfd.readouterr().err, "not from a worker either"
    with pytest.warns(GenWarning, match="12x10"):
        assert read_image(big, None).shape == (1, 10, 12)


def test_an_image_over_twice_pillows_limit_is_an_error_naming_it_and_the_limit(tmp_path,
                                                                               small_limit):
    data = tmp_path / "images"
    png(data / "a.png")
    huge = png(data / "b.png", (15, 15))
    result = invoke("train", "toy", "--out", tmp_path / "run", "-q", *CPU,
                    "--set", "data.dataset=image-folder", "--set", f"data.root={data}",
                    "--set", "data.workers=0")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == (
        "error: data set 'image-folder' (plugin 'gen-core'): item 1 (b.png): cannot read image "
        f"{huge}: it has over 200 pixels, twice Pillow's limit against decompression bombs "
        "(PIL.Image.MAX_IMAGE_PIXELS = 100); shrink it or leave it out")
    assert "Bomb" not in result.output and not (tmp_path / "run").exists()
