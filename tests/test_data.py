"""Data sets in memory: the bundled split, image folders, conversions, and batch streams."""

import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from gen.data.datasets import load_dataset
from gen.data.loader import BatchStream
from gen.data.sources.mnist import parse_idx
from gen.errors import DataError
from gen.specs import DataSpec


def test_bundled_mnist_is_split_into_disjoint_train_and_test_parts():
    train = load_dataset(DataSpec(image_size=28))
    test = load_dataset(DataSpec(image_size=28, split="test"))
    assert train.images.shape == (9000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (1000, 1, 28, 28)
    assert train.info.num_classes == 10 and train.info.num_images == 9000
    # MNIST's test split starts with the labels 7 2 1 0 4 (SOURCE.md); index 9 goes to `test`.
    assert train.labels[:5].tolist() == [7, 2, 1, 0, 4]
    flat_train = {bytes(img.flatten().tolist()) for img in train.images}
    assert not any(bytes(img.flatten().tolist()) in flat_train for img in test.images)
    # Label counts of the whole split (SOURCE.md) are preserved across the two parts.
    counts = torch.bincount(torch.cat([train.labels, test.labels]), minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_resize_limit_and_channels():
    data = load_dataset(DataSpec(image_size=32, limit=10, channels=3))
    assert data.images.shape == (10, 3, 32, 32)
    assert torch.equal(data.images[:, 0], data.images[:, 2])
    assert data.labels.shape == (10,)


def write_image(path, color, size=(12, 10), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_image_folder_with_classes(tmp_path):
    write_image(tmp_path / "cats" / "a.png", (255, 0, 0))
    write_image(tmp_path / "cats" / "b.jpg", (250, 0, 0))
    write_image(tmp_path / "dogs" / "c.png", (0, 0, 255))
    data = load_dataset(DataSpec(dataset="image-folder", root=str(tmp_path), image_size=8))
    assert data.images.shape == (3, 3, 8, 8)
    assert data.labels.tolist() == [0, 0, 1] and data.info.num_classes == 2
    assert data.images[2, 2].float().mean() > 250 and data.images[2, 0].float().mean() < 5


def test_flat_image_folder_is_unlabelled_and_channels_convert(tmp_path):
    write_image(tmp_path / "x.png", 128, mode="L")
    write_image(tmp_path / "y.png", (10, 20, 30))
    with pytest.raises(DataError, match="mix grey and colour"):
        load_dataset(DataSpec(dataset="image-folder", root=str(tmp_path), image_size=4))
    data = load_dataset(DataSpec(dataset="image-folder", root=str(tmp_path), image_size=4,
                                 channels=1))
    assert data.labels is None and data.info.num_classes is None
    assert data.images.shape == (2, 1, 4, 4)


def test_image_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(ValidationError, match=r"image-folder needs data\.root"):
        DataSpec(dataset="image-folder")
    with pytest.raises(DataError, match="is not a folder of images"):
        load_dataset(DataSpec(dataset="image-folder", root=str(tmp_path / "missing")))
    with pytest.raises(DataError, match="no images in"):
        load_dataset(DataSpec(dataset="image-folder", root=str(tmp_path)))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*broken\.png"):
        load_dataset(DataSpec(dataset="image-folder", root=str(tmp_path)))


def test_torchvision_data_set_reads_a_local_root(tmp_path):
    """`mnist` from a local root in torchvision's layout, gzipped or not, with only the split
    that is asked for present."""
    import gzip
    import importlib.resources

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    bundled = importlib.resources.files("gen.data") / "bundled"
    images, labels = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
    (raw / images).write_bytes(gzip.decompress((bundled / f"{images}.gz").read_bytes()))
    (raw / f"{labels}.gz").write_bytes((bundled / f"{labels}.gz").read_bytes())  # as shipped
    data = load_dataset(DataSpec(dataset="mnist", root=str(tmp_path), split="test",
                                 image_size=28))
    assert data.images.shape == (10000, 1, 28, 28) and data.labels[:3].tolist() == [7, 2, 1]
    with pytest.raises(DataError, match=r"train split.*not found.*data\.download=true"):
        load_dataset(DataSpec(dataset="mnist", root=str(tmp_path), split="train"))


def test_parse_idx_rejects_bad_files():
    with pytest.raises(DataError, match="not an unsigned-byte IDX"):
        parse_idx(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00", "f")
    with pytest.raises(DataError, match="truncated"):
        parse_idx(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "f")


def small_set(n=10):
    data = load_dataset(DataSpec(image_size=4, limit=n))
    return data


def test_batch_stream_covers_each_epoch_without_replacement_and_scales():
    data = small_set(10)
    stream = BatchStream(data, batch_size=5, seed=0, device=torch.device("cpu"))
    first, second = stream(), stream()
    assert first.images.shape == (5, 1, 4, 4) and first.images.dtype == torch.float32
    assert first.images.min() >= -1 and first.images.max() <= 1
    seen = torch.cat([first.labels, second.labels]).sort().values
    assert torch.equal(seen, data.labels.sort().values)
    assert stream.epoch == 0
    stream()
    assert stream.epoch == 1


def test_batch_stream_state_resumes_the_same_batches():
    data = small_set(12)
    a = BatchStream(data, 5, seed=3, device=torch.device("cpu"))
    for _ in range(3):
        a()
    b = BatchStream(data, 5, seed=3, device=torch.device("cpu"))
    b.load_state_dict(a.state_dict())
    for _ in range(4):
        assert torch.equal(a().images, b().images)
    other = BatchStream(data, 5, seed=4, device=torch.device("cpu"))
    assert not torch.equal(other().images, BatchStream(data, 5, 3, torch.device("cpu"))().images)


def test_batch_larger_than_the_data_set_is_a_clear_error():
    with pytest.raises(DataError, match=r"train\.batch_size is 64 but the data set has only 10"):
        BatchStream(small_set(10), 64, 0, torch.device("cpu"))


def test_static_binarisation_is_one_fixed_draw_matching_intensities():
    grey = load_dataset(DataSpec(image_size=28, limit=200))
    a = load_dataset(DataSpec(image_size=28, limit=200, binarize="static"))
    b = load_dataset(DataSpec(image_size=28, limit=200, binarize="static"))
    assert a.info.binary and not grey.info.binary
    assert set(a.images.unique().tolist()) == {0, 255}
    assert torch.equal(a.images, b.images), "static means the same draw every time"
    # P(pixel on) = intensity / 255: the mean matches within sampling error.
    expected = grey.images.float().mean() / 255
    assert abs((a.images.float() / 255).mean() - expected) < 0.01
    assert torch.equal(a.images[grey.images == 0], grey.images[grey.images == 0])


def test_dynamic_binarisation_draws_anew_each_batch_from_the_global_rng():
    data = load_dataset(DataSpec(image_size=28, limit=16, binarize="dynamic"))
    assert data.dynamic_binarize and data.info.binary
    torch.manual_seed(0)
    stream = BatchStream(data, 16, seed=0, device=torch.device("cpu"))
    first = stream()
    assert set(first.images.unique().tolist()) == {-1.0, 1.0}
    stream.load_state_dict({"epoch": 0, "position": 0})
    assert not torch.equal(first.images, stream().images), "a new draw for the same images"
    torch.manual_seed(0)
    stream.load_state_dict({"epoch": 0, "position": 0})
    assert torch.equal(first.images, stream().images), "reproducible from the RNG state"
