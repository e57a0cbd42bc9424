"""Where training images live (data.storage): memory and stream give the same batches in the
same order, stream runs resume bit for bit, the decoded cache is reused and never trusted when
stale or damaged, and the data set options and conversions that feed it (hflip, crop, class
names, npz layouts)."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gen.cli.main import cli
from gen.data.cache import open_cache
from gen.data.datasets import ImageSet, load_dataset, load_source
from gen.data.info import DataInfo
from gen.data.loader import BatchStream, StreamedBatches, epoch_order
from gen.data.source import open_source
from gen.data.storage import choose_storage
from gen.run.checkpoints import load_checkpoint
from gen.specs import DataSpec

CPU = torch.device("cpu")
TRAIN = ["train", "toy", "-q", "--set", "train.device=cpu", "--set", "train.batch_size=4",
         "--set", "train.num_samples=4", "--set", "train.log_every=1"]
DECODING = "data: decoding "


@pytest.fixture(autouse=True)
def cache(gen_cache, toy_plugins):
    """$GEN_CACHE in tmp_path (the user's own cache untouched); the core's data sets and the
    toy models."""
    return gen_cache


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def decoded(cache: Path) -> Path:
    return cache / "data" / "gen-core-image-folder" / "decoded"


def write_folder(root: Path, counts=(5, 5), classes=("ant", "bee"), size=8, seed=0) -> Path:
    """Random colour PNGs, ``counts[i]`` in sub-folder ``classes[i]`` (or loose with
    classes=None)."""
    rng = np.random.default_rng(seed)
    for i, count in enumerate(counts):
        folder = root / classes[i] if classes else root
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(count):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{j:03d}.png")
    return root


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def train(out, *sets, resume=False):
    base = ["train", "toy", "-q", "--resume"] if resume else TRAIN
    result = invoke(*base, "--out", out, *(a for s in sets for a in ("--set", s)))
    assert result.exit_code == 0, result.output
    return result


def folder_sets(folder, *more):
    return ["data.dataset=image-folder", f"data.root={folder}", "data.image_size=8", *more]


def losses(run: Path) -> list[tuple]:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in lines if "d_loss" in r]


def assert_same_weights(a: Path, b: Path) -> None:
    ca = load_checkpoint(a / "checkpoints" / "latest.pt")
    cb = load_checkpoint(b / "checkpoints" / "latest.pt")
    assert ca["step"] == cb["step"]
    for name, state in cb["state"]["modules"].items():
        for key, tensor in state.items():
            assert torch.equal(ca["state"]["modules"][name][key], tensor), f"{name}.{key}"
    assert ca["data"] == cb["data"]


# -- the same batches from memory and from the stream ---------------------------------------------


def opened(folder: Path, **spec):
    data_spec = DataSpec(**{"dataset": "image-folder", "root": str(folder), "image_size": 8,
                            **spec})
    return data_spec, open_source(data_spec, log=lambda line: None)


@pytest.mark.parametrize("workers", [0, 2])
def test_memory_and_stream_give_the_same_batches_in_the_same_order(tmp_path, workers):
    folder = write_folder(tmp_path / "images", counts=(6, 4))
    spec, source = opened(folder)
    memory = load_source(spec, source)
    cache = open_cache(spec, source, tmp_path / "decoded", log=lambda line: None)
    for hflip in (False, True):
        a = BatchStream(memory, 4, seed=7, device=CPU, hflip=hflip)
        b = StreamedBatches(cache, 4, seed=7, device=CPU, hflip=hflip, workers=workers)
        torch.manual_seed(3)
        first = [a() for _ in range(7)]  # 10 images: 2 batches an epoch, so 3 epochs and more
        torch.manual_seed(3)
        second = [b() for _ in range(7)]
        assert a.state_dict() == b.state_dict() == {"epoch": 3, "position": 4}
        for x, y in zip(first, second, strict=True):
            assert torch.equal(x.images, y.images) and torch.equal(x.labels, y.labels)
        b.close()
    # what the streams hold are the same images, in item order
    order = epoch_order(7, 0, 10)[:4]
    expected = memory.images[order].float() / 127.5 - 1
    assert torch.equal(BatchStream(memory, 4, 7, CPU)().images, expected)

    # a stream picks up a memory stream's state mid-epoch, and the reverse
    a = BatchStream(memory, 4, seed=7, device=CPU)
    for _ in range(3):
        a()
    b = StreamedBatches(cache, 4, seed=7, device=CPU, workers=workers)
    b.load_state_dict(a.state_dict())
    for _ in range(3):
        assert torch.equal(a().images, b().images)
    b.close()


# -- whole runs -----------------------------------------------------------------------------------


def test_stream_resume_is_bit_identical_and_memory_equals_stream(tmp_path, cache):
    folder = write_folder(tmp_path / "images", counts=(5, 5))
    common = folder_sets(folder, "data.hflip=true", "data.workers=2",
                         "train.checkpoint_every=3", "train.sample_every=100")
    straight, resumed, memory = tmp_path / "straight", tmp_path / "resumed", tmp_path / "memory"
    train(straight, *common, "data.storage=stream", "train.steps=6")
    train(resumed, *common, "data.storage=stream", "train.steps=3")
    assert load_checkpoint(resumed / "checkpoints" / "latest.pt")["data"] == {
        "epoch": 1, "position": 4}, "stopped mid-epoch"
    again = train(resumed, "train.steps=6", resume=True)
    assert "resuming at step 3" in again.stderr
    assert losses(resumed) == losses(straight) and len(losses(straight)) == 6
    assert_same_weights(resumed, straight)

    train(memory, *common, "data.storage=memory", "train.steps=6")
    assert losses(memory) == losses(straight), "the same batches, step for step"
    assert_same_weights(memory, straight)

    switched = tmp_path / "switched"  # data.storage may change on --resume: the same order
    train(switched, *common, "data.storage=memory", "train.steps=3")
    train(switched, "train.steps=6", "data.storage=stream", "data.workers=0", resume=True)
    assert losses(switched) == losses(straight)
    assert_same_weights(switched, straight)


# -- the decoded cache ----------------------------------------------------------------------------


def cache_files(cache: Path) -> set[str]:
    return {p.name for p in decoded(cache).iterdir()}


def stem_of(names: set[str]) -> str:
    stems = {name.rsplit(".", 1)[0] for name in names}
    assert len(stems) == 1, names
    assert names == {f"{next(iter(stems))}.{ext}" for ext in ("json", "u8", "labels")}, names
    return next(iter(stems))


def test_the_decoded_cache_is_reused_and_rebuilt_when_the_folder_changes(tmp_path, cache):
    folder = write_folder(tmp_path / "images", counts=(3, 3))
    sets = folder_sets(folder, "data.storage=stream", "data.workers=0", "train.steps=1")
    runs = iter(range(100))

    def run():
        return train(tmp_path / f"run{next(runs)}", *sets).stderr

    assert DECODING in run()
    first = stem_of(cache_files(cache))
    assert DECODING not in run(), "the second run reads the cache"
    assert stem_of(cache_files(cache)) == first

    image = folder / "ant" / "000.png"
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: same bytes
    assert DECODING in run()
    touched = stem_of(cache_files(cache))  # the old key's files are gone
    assert touched != first and touched.split("-")[:2] == first.split("-")[:2]

    write_folder(tmp_path / "more", counts=(1,), classes=("bee",), seed=9)
    (tmp_path / "more" / "bee" / "000.png").rename(folder / "bee" / "new.png")
    err = run()
    assert DECODING in err and "decoding 7 images" in err
    added = stem_of(cache_files(cache))
    assert added not in (first, touched)
    assert DECODING not in run()


@pytest.mark.parametrize("damage", ["truncate-u8", "delete-json", "garble-json", "json-list",
                                    "truncate-labels", "delete-u8"])
def test_a_damaged_cache_is_rebuilt_never_trusted(tmp_path, cache, damage):
    folder = write_folder(tmp_path / "images", counts=(3, 3))
    spec, source = opened(folder, storage="stream")
    lines = []
    where = decoded(cache)
    good = open_cache(spec, source, where, lines.append)
    stem = good.path.with_suffix("")
    u8, js, labels = (stem.with_suffix(s) for s in (".u8", ".json", ".labels"))
    images = u8.read_bytes()
    assert len(images) == 6 * 3 * 8 * 8 and any(DECODING in line for line in lines)
    lines.clear()
    open_cache(spec, source, where, lines.append)
    assert lines == [], "an intact cache is read as it is"

    if damage == "truncate-u8":
        u8.write_bytes(images[: len(images) // 2])
    elif damage == "delete-json":
        js.unlink()
    elif damage == "garble-json":
        js.write_text('{"format": 1, "num_ima')
    elif damage == "json-list":
        js.write_text("[1, 2, 3]")
    elif damage == "truncate-labels":
        labels.write_bytes(labels.read_bytes()[:-8])
    else:
        u8.unlink()
    rebuilt = open_cache(spec, source, where, lines.append)
    assert any(DECODING in line for line in lines), "rebuilt"
    assert rebuilt.path == good.path and u8.read_bytes() == images
    assert json.loads(js.read_text())["num_images"] == 6
    assert stem_of(cache_files(cache)) == stem.name, "nothing else left in the folder"


def test_a_data_set_without_a_fingerprint_is_decoded_anew_at_every_start(tmp_path, cache):
    import dataclasses

    folder = write_folder(tmp_path / "images", counts=(3, 3))
    spec, source = opened(folder, storage="stream")
    source = dataclasses.replace(source, fingerprint=None)
    for _ in range(2):
        lines = []
        built = open_cache(spec, source, decoded(cache), lines.append)
        assert any(DECODING in line for line in lines), "never trusted from an older cache"
        assert built.path.name.endswith("-unkeyed.u8")
    stem_of(cache_files(cache))


def test_a_read_only_image_folder_trains_with_stream_storage(tmp_path, cache):
    folder = write_folder(tmp_path / "images", counts=(3, 3))
    before = _files(folder)
    paths = [folder, *folder.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
    try:
        err = train(tmp_path / "run", *folder_sets(folder, "data.storage=stream",
                                                   "train.steps=2")).stderr
    finally:
        for p in paths:
            p.chmod(modes[p])
    assert _files(folder) == before, "nothing written inside the image folder"
    assert f"into {decoded(cache)}" in err
    stem_of(cache_files(cache))


def test_auto_storage_picks_by_the_budget_and_says_which(tmp_path, cache):
    # 24 colour images at 128x128 are 1.125 MiB decoded; 16 are 0.75 MiB
    folder = write_folder(tmp_path / "images", counts=(24,), classes=None)
    sets = folder_sets(folder, "data.image_size=128", "data.memory_budget_mb=1",
                       "train.steps=1", "data.workers=0")
    err = train(tmp_path / "over", *sets).stderr
    assert ("24 images of 3x128x128, 1.1 MiB decoded, over data.memory_budget_mb=1: streamed "
            "from a decoded cache") in err
    assert DECODING in err and decoded(cache).is_dir()
    err = train(tmp_path / "under", *sets, "data.limit=16").stderr
    assert ("16 images of 3x128x128, 0.8 MiB decoded, within data.memory_budget_mb=1: in "
            "memory") in err
    assert DECODING not in err
    spec, source = opened(folder, image_size=128, memory_budget_mb=1)
    assert choose_storage(spec, source)[0] == "stream"
    spec, source = opened(folder, image_size=128, memory_budget_mb=2)
    assert choose_storage(spec, source)[0] == "memory"
    spec, source = opened(folder, image_size=128, memory_budget_mb=2, storage="stream")
    assert choose_storage(spec, source) == (
        "stream", "24 images of 3x128x128, 1.1 MiB decoded; data.storage=stream")


# -- hflip ----------------------------------------------------------------------------------------


def test_hflip_mirrors_about_half_of_a_batch_and_is_off_by_default(tmp_path):
    n = 64
    images = torch.randint(0, 256, (n, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator()
                           .manual_seed(0))
    data = ImageSet(images, None, DataInfo("x", 3, 4, None, n))
    path = tmp_path / "images.u8"
    path.write_bytes(images.numpy().tobytes())
    from gen.data.cache import DecodedCache

    cache = DecodedCache(path, n, 3, 4, None)
    stored = images[epoch_order(0, 0, n)].float() / 127.5 - 1
    mirrored = stored.flip(3)
    assert not (stored == mirrored).all((1, 2, 3)).any(), "every image differs from its mirror"
    assert DataSpec().hflip is False

    for make in (lambda **kw: BatchStream(data, n, 0, CPU, **kw),
                 lambda **kw: StreamedBatches(cache, n, 0, CPU, workers=0, **kw)):
        assert torch.equal(make()().images, stored), "no flips by default"
        torch.manual_seed(1)
        batch = make(hflip=True)().images
        same = (batch == stored).all((1, 2, 3))
        flipped = (batch == mirrored).all((1, 2, 3))
        assert (same ^ flipped).all(), "each image is itself or its mirror"
        assert 20 <= int(flipped.sum()) <= 44, int(flipped.sum())
        torch.manual_seed(1)
        assert torch.equal(make(hflip=True)().images, batch), "drawn from the global RNG"


# -- image-folder: crops and class names ----------------------------------------------------------

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def thirds(width, height, vertical=True) -> Image.Image:
    """Red, green and blue thirds: side by side (vertical stripes) or stacked."""
    pixels = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate((RED, GREEN, BLUE)):
        if vertical:
            pixels[:, i * width // 3 : (i + 1) * width // 3] = colour
        else:
            pixels[i * height // 3 : (i + 1) * height // 3] = colour
    return Image.fromarray(pixels)


def fitted(tmp_path, image: Image.Image, crop: str) -> torch.Tensor:
    folder = tmp_path / f"{crop}-{image.width}x{image.height}"
    folder.mkdir()
    image.save(folder / "a.png")
    data = load_dataset(DataSpec(dataset="image-folder", root=str(folder), image_size=8,
                                 options={"crop": crop}))
    assert data.images.shape == (1, 3, 8, 8)
    return data.images[0].int()


def is_colour(pixel: torch.Tensor, colour, tolerance=60) -> bool:
    return bool((pixel - torch.tensor(colour)).abs().max() <= tolerance)


def test_image_folder_crop_modes_on_a_wide_image(tmp_path):
    wide = thirds(24, 8)  # 8 high, 24 wide: red | green | blue
    center = fitted(tmp_path, wide, "center")
    assert (center == torch.tensor(GREEN).view(3, 1, 1)).all(), "the middle third only"

    resize = fitted(tmp_path, wide, "resize")
    assert is_colour(resize[:, 4, 0], RED) and is_colour(resize[:, 4, 7], BLUE)
    assert resize[1, :, 3:5].min() > 150, "green in the middle"

    pad = fitted(tmp_path, wide, "pad")  # scaled to 3 rows, centred: rows 2-4
    assert (pad[:, :2] == 0).all() and (pad[:, 5:] == 0).all(), "black top and bottom"
    assert is_colour(pad[:, 3, 0], RED) and is_colour(pad[:, 3, 7], BLUE)
    assert pad[1, 2:5, 3:5].min() > 150

    tall = fitted(tmp_path, thirds(8, 24, vertical=False), "pad")
    assert (tall[:, :, :2] == 0).all() and (tall[:, :, 5:] == 0).all(), "black left and right"
    assert is_colour(tall[:, 0, 3], RED) and is_colour(tall[:, 7, 3], BLUE)
    assert fitted(tmp_path, thirds(8, 24, vertical=False), "center")[1].min() == 255


def test_class_names_are_the_sub_folders_in_label_order(tmp_path):
    folder = write_folder(tmp_path / "images", counts=(2, 1, 3), classes=("zebra", "ant", "mole"))
    run = tmp_path / "run"
    train(run, *folder_sets(folder, "train.steps=1", "data.workers=0"))
    data = json.loads((run / "run.json").read_text())["data"]
    assert data["classes"] == ["ant", "mole", "zebra"] and data["num_classes"] == 3
    assert data["num_images"] == 6
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert list(ckpt["data_info"]["classes"]) == ["ant", "mole", "zebra"]


# -- npz ------------------------------------------------------------------------------------------

NCHW = np.random.default_rng(4).integers(0, 256, (16, 3, 8, 8), dtype=np.uint8)


@pytest.mark.parametrize("labelled", [False, True])
@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW"])
def test_npz_trains_in_each_layout(tmp_path, layout, labelled):
    array = {"NHW": NCHW[:, 0], "NHWC": NCHW.transpose(0, 2, 3, 1), "NCHW": NCHW}[layout]
    arrays = {"images": array}
    if labelled:
        arrays["labels"] = np.arange(16) % 3
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    run = tmp_path / "run"
    train(run, "data.dataset=npz", f"data.root={path}", "data.image_size=8", "train.steps=2",
          "data.workers=0")
    data = json.loads((run / "run.json").read_text())["data"]
    channels = 1 if layout == "NHW" else 3
    assert data["channels"] == channels and data["num_images"] == 16
    assert data["num_classes"] == (3 if labelled else None)
    loaded = load_dataset(DataSpec(dataset="npz", root=str(path), image_size=8))
    assert torch.equal(loaded.images, torch.from_numpy(NCHW[:, :channels].copy()))


def test_ctrl_c_to_the_whole_process_group_stops_a_streaming_run_cleanly(tmp_path, toy_env):
    """Ctrl-C in a terminal signals the reading workers too; the training process still stops
    after its step with a checkpoint (exit 130), with no worker's error."""
    run = tmp_path / "run"
    env = {**toy_env, "GEN_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gen", "train", "toy", "--quiet", "--out", str(run),
         "--set", "train.device=cpu", "--set", "train.batch_size=8", "--set", "data.limit=64",
         "--set", "data.storage=stream", "--set", "data.workers=2",
         "--set", "train.steps=100000000", "--set", "train.checkpoint_every=20",
         "--set", "train.sample_every=100000"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    first = run / "checkpoints" / "step-000020.pt"
    deadline = time.monotonic() + 120
    while not first.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "worker" not in err, err
    assert "stopped at step" in " ".join(err.split())


def test_two_image_folders_keep_their_own_caches(cache, tmp_path):
    """The cache is keyed by the folder too: training on one never evicts the other's."""
    roots = []
    for name, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        root = tmp_path / name
        root.mkdir()
        for i in range(3):
            Image.new("RGB", (8, 8), colour).save(root / f"{i}.png")
        roots.append(root)
    specs = [DataSpec(dataset="image-folder", root=str(r), image_size=8, storage="stream",
                      workers=0) for r in roots]
    lines = []
    for spec in (*specs, *specs):
        source = open_source(spec)
        open_cache(spec, source, decoded(cache), lines.append)
    assert sum(line.startswith(DECODING) for line in lines) == 2, lines
