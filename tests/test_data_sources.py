"""The file-based data set builders (gen.data.sources), on tiny fixtures written in each real
on-disk format: .npz, SVHN's .mat, STL-10's column-major .bin and CelebA's JPEGs."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from gen.data.request import DatasetRequest
from gen.data.sources import celeba, npz, stl10, svhn
from gen.data.sources.options import CelebAOptions
from gen.errors import DataError
from gen.specs import DataSpec


def request(root, split="train", options=None, download=False, dataset="npz"):
    # DataSpec.dataset may still be a closed Literal; the builders read only root and download.
    spec = DataSpec.model_construct(dataset=dataset, root=str(root), download=download,
                                    split=split)
    return DatasetRequest(spec=spec, split=split, cache=root.parent / "cache", log=lambda _: None,
                          options=options)


def items(ds):
    return [ds[i] for i in range(len(ds))]


def touch(path):
    """Move a file's modification time without changing its bytes."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def roundtrip(ds):
    copy = pickle.loads(pickle.dumps(ds))
    assert len(copy) == len(ds)
    for (a, la), (b, lb) in zip(items(ds), items(copy), strict=True):
        assert torch.equal(a, b) and la == lb
    return copy


# -- npz --------------------------------------------------------------------------------------

NCHW = np.random.default_rng(0).integers(0, 256, (5, 3, 4, 6), dtype=np.uint8)
LABELS = np.array([0, 2, 1, 2, 0])


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC", "NHW"])
def test_npz_layouts_round_trip_exactly(tmp_path, layout, save):
    expected = NCHW[:, :1] if layout == "NHW" else NCHW
    array = {"NCHW": NCHW, "NHWC": NCHW.transpose(0, 2, 3, 1), "NHW": NCHW[:, 0]}[layout]
    save(tmp_path / "data.npz", images=array)
    ds = npz.build(request(tmp_path / "data.npz"))
    assert len(ds) == 5 and ds.num_classes is None
    for (image, label), want in zip(items(ds), expected, strict=True):
        assert image.dtype == torch.uint8 and image.shape == want.shape
        assert torch.equal(image, torch.from_numpy(want)) and label == 0
    roundtrip(ds)


def test_npz_layout_rule_prefers_channels_first_when_both_could_be():
    assert npz._layout((2, 3, 5, 3)) == "NCHW"
    assert npz._layout((2, 1, 5, 1)) == "NCHW"
    assert npz._layout((2, 5, 7, 1)) == "NHWC"
    assert npz._layout((2, 4, 5, 6)) is None


def test_npz_labels_and_a_folder_of_splits(tmp_path):
    np.savez(tmp_path / "train.npz", images=NCHW, labels=LABELS)
    np.savez(tmp_path / "test.npz", images=NCHW[:2])
    train = npz.build(request(tmp_path))
    assert train.num_classes == 3 and [label for _, label in items(train)] == LABELS.tolist()
    test = npz.build(request(tmp_path, "test"))
    assert len(test) == 2 and test.num_classes is None
    # one file serves both splits
    both = npz.build(request(tmp_path / "train.npz", "test"))
    assert len(both) == 5 and both.fingerprint == train.fingerprint


def test_npz_options_name_the_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", x=NCHW, y=LABELS, labels=np.zeros(5, int))
    ds = npz.build(request(tmp_path / "d.npz", options=npz.NpzOptions(images_key="x",
                                                                   labels_key="y")))
    assert ds.num_classes == 3 and ds[1][1] == 2
    with pytest.raises(DataError, match=r"d\.npz: no array 'images'; it holds x, y, labels"):
        npz.build(request(tmp_path / "d.npz"))
    with pytest.raises(DataError, match=r"no array 'z' \(data\.options\.labels_key\)"):
        npz.build(request(tmp_path / "d.npz", options=npz.NpzOptions(images_key="x",
                                                                  labels_key="z")))
    with pytest.raises(ValidationError, match="extra_forbidden"):
        npz.NpzOptions(image_key="x")


def test_npz_memory_maps_uncompressed_arrays(tmp_path):
    big = np.random.default_rng(1).integers(0, 256, (64, 3, 32, 32), dtype=np.uint8)
    np.savez(tmp_path / "big.npz", images=big)
    ds = npz.build(request(tmp_path / "big.npz"))
    assert len(pickle.dumps(ds)) < big.nbytes // 100  # the file's name, not its bytes
    copy = roundtrip(ds)
    assert torch.equal(copy[63][0], torch.from_numpy(big[63]))


@pytest.mark.parametrize("arrays, match", [
    ({"images": NCHW.astype(np.float32)}, r"'images' has dtype float32; expected uint8"),
    ({"images": np.zeros((2, 4, 5, 6), np.uint8)},
     r"shape \(2, 4, 5, 6\); expected \(N, H, W\) grey, \(N, H, W, C\) or \(N, C, H, W\)"),
    ({"images": np.zeros((2, 5), np.uint8)}, r"shape \(2, 5\); expected"),
    ({"images": np.zeros((0, 5, 5), np.uint8)}, "holds no images"),
    ({"images": NCHW, "labels": -LABELS}, r"'labels' holds the label -2; labels are classes 0"),
    ({"images": NCHW, "labels": LABELS[:4]}, r"shape \(4,\) .* expected 5 integers"),
    ({"images": NCHW, "labels": LABELS * 0.5}, r"dtype float64; expected 5 integers"),
    ({"images": np.array([None, 1])}, r"dtype object; expected uint8"),
])
def test_npz_errors_name_the_file_and_what_was_expected(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=r"bad\.npz: .*" + match):
        npz.build(request(tmp_path / "bad.npz"))


def test_npz_missing_or_unreadable_files(tmp_path):
    np.savez(tmp_path / "train.npz", images=NCHW)
    with pytest.raises(DataError, match=r"npz \(test split\): .*test\.npz not found"):
        npz.build(request(tmp_path, "test"))
    with pytest.raises(DataError, match=r"is neither a \.npz file nor a folder"):
        npz.build(request(tmp_path / "missing"))
    np.save(tmp_path / "one.npy", NCHW)
    with pytest.raises(DataError, match=r"one\.npy is not a \.npz archive"):
        npz.build(request(tmp_path / "one.npy"))
    data = (tmp_path / "train.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:-10])
    with pytest.raises(DataError, match=r"cut\.npz is not a \.npz archive .*, or it is cut short"):
        npz.build(request(tmp_path / "cut.npz"))
    (tmp_path / "mangled.npz").write_bytes(data[:200] + data[-300:])
    with pytest.raises(DataError, match=r"cannot read .*mangled\.npz"):
        npz.build(request(tmp_path / "mangled.npz"))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(NCHW))
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as archive:  # a header promising more
        archive.writestr("images.npy", header.getvalue() + NCHW.tobytes()[:100])
    with pytest.raises(DataError, match=r"short\.npz: array 'images' is cut short \(100 of 360"):
        npz.build(request(tmp_path / "short.npz"))


def test_npz_fingerprint_follows_the_file(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=NCHW)
    first = npz.build(request(path)).fingerprint
    assert npz.build(request(path)).fingerprint == first
    touch(path)
    second = npz.build(request(path)).fingerprint
    np.savez(path, images=NCHW[:4])
    assert len({first, second, npz.build(request(path)).fingerprint}) == 3


# -- svhn -------------------------------------------------------------------------------------

def write_svhn(folder, part, images, digits):
    """torchvision's format: X (H, W, 3, N) uint8, y (N, 1) with 10 for the digit 0."""
    import scipy.io

    folder.mkdir(exist_ok=True)
    labels = np.where(np.asarray(digits) == 0, 10, digits).astype(np.uint8).reshape(-1, 1)
    scipy.io.savemat(folder / f"{part}_32x32.mat", {"X": images.transpose(2, 3, 1, 0),
                                                    "y": labels})


SVHN_IMAGES = np.random.default_rng(2).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)


def test_svhn_reads_torchvision_files(tmp_path, monkeypatch):
    write_svhn(tmp_path, "train", SVHN_IMAGES, [0, 3, 9, 0])
    ds = svhn.build(request(tmp_path, dataset="svhn"))
    assert len(ds) == 4 and ds.num_classes == 10 and ds.classes[0] == "0"
    assert [label for _, label in items(ds)] == [0, 3, 9, 0]
    for (image, _), want in zip(items(ds), SVHN_IMAGES, strict=True):
        assert image.dtype == torch.uint8 and torch.equal(image, torch.from_numpy(want))
    # the same items as torchvision's own reader (its md5 check skipped for the fixture)
    from torchvision.datasets import SVHN

    monkeypatch.setattr(SVHN, "_check_integrity", lambda self: True)
    reference = SVHN(str(tmp_path), split="train")
    assert np.array_equal(reference.data, np.stack([image.numpy() for image, _ in items(ds)]))
    assert reference.labels.tolist() == [0, 3, 9, 0]
    roundtrip(ds)


def test_svhn_extra_joins_the_train_split(tmp_path):
    write_svhn(tmp_path, "train", SVHN_IMAGES[:2], [1, 2])
    write_svhn(tmp_path, "extra", SVHN_IMAGES[2:], [3, 0])
    write_svhn(tmp_path, "test", SVHN_IMAGES[:1], [5])
    extra = svhn.SvhnOptions(extra=True)
    ds = svhn.build(request(tmp_path, options=extra, dataset="svhn"))
    assert [label for _, label in items(ds)] == [1, 2, 3, 0]
    assert torch.equal(ds[3][0], torch.from_numpy(SVHN_IMAGES[3]))
    assert ds.fingerprint != svhn.build(request(tmp_path, dataset="svhn")).fingerprint
    assert len(svhn.build(request(tmp_path, "test", options=extra, dataset="svhn"))) == 1


def test_svhn_errors(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"svhn \(test split\) not found under .* \(expected "
                       r".*test_32x32\.mat\): set data\.download=true where the network allows"):
        svhn.build(request(tmp_path, "test", dataset="svhn"))
    from torchvision.datasets import utils

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(utils, "download_url", offline)
    with pytest.raises(DataError, match=r"svhn \(test split\): the download into .* failed "
                       r"\(OSError: network is unreachable\)"):
        svhn.build(request(tmp_path, "test", download=True, dataset="svhn"))
    write_svhn(tmp_path, "train", SVHN_IMAGES[:2], [1, 11])
    with pytest.raises(DataError, match=r"train_32x32\.mat: label 11 in y; SVHN labels are 1-10"):
        svhn.build(request(tmp_path, dataset="svhn"))
    (tmp_path / "train_32x32.mat").write_bytes(b"not a mat file" * 20)
    with pytest.raises(DataError, match=r"cannot read .*train_32x32\.mat"):
        svhn.build(request(tmp_path, dataset="svhn"))


# -- stl10 ------------------------------------------------------------------------------------

def stl_images(count, seed):
    images = np.random.default_rng(seed).integers(0, 200, (count, 3, 96, 96), dtype=np.uint8)
    images[0, 0, 0, 5] = 255  # row 0, column 5: wrong way round it would land at row 5
    return images


def write_stl(folder, name, images, labels=None):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())  # by column
    if labels is not None:
        (folder / f"{name}_y.bin").write_bytes(np.asarray(labels, np.uint8).tobytes())


def test_stl10_reads_the_column_major_binaries(tmp_path, monkeypatch):
    folder = tmp_path / "stl10_binary"
    train, test, unlabeled = stl_images(3, 3), stl_images(2, 4), stl_images(4, 5)
    write_stl(folder, "train", train, [1, 10, 5])
    write_stl(folder, "test", test, [2, 2])
    write_stl(folder, "unlabeled", unlabeled)
    ds = stl10.build(request(tmp_path, dataset="stl10"))
    assert len(ds) == 3 and ds.num_classes == 10 and ds.classes[9] == "truck"
    assert [label for _, label in items(ds)] == [0, 9, 4]
    first = ds[0][0]
    assert first.shape == (3, 96, 96) and first[0, 0, 5] == 255 and first[0, 5, 0] < 200
    for (image, _), want in zip(items(ds), train, strict=True):
        assert torch.equal(image, torch.from_numpy(want))
    from torchvision.datasets import STL10

    monkeypatch.setattr(STL10, "_check_integrity", lambda self: True)
    reference = STL10(str(tmp_path), split="train")
    assert np.array_equal(reference.data, np.stack([image.numpy() for image, _ in items(ds)]))
    assert len(stl10.build(request(tmp_path, "test", dataset="stl10"))) == 2

    options = stl10.Stl10Options(unlabeled=True)
    free = stl10.build(request(tmp_path, options=options, dataset="stl10"))
    assert len(free) == 4 and free.num_classes is None and free[0][1] == 0
    assert torch.equal(free[3][0], torch.from_numpy(unlabeled[3]))
    assert stl10.build(request(tmp_path, "test", options=options, dataset="stl10")).num_classes
    assert len(pickle.dumps(free)) < 2000  # memory-mapped: the file's name, not its bytes
    roundtrip(free)


def test_stl10_errors_and_fingerprint(tmp_path):
    folder = tmp_path / "stl10_binary"
    with pytest.raises(DataError, match=r"stl10 \(train split\) not found under .* \(expected "
                       r".*train_X\.bin\): set data\.download=true"):
        stl10.build(request(tmp_path, dataset="stl10"))
    write_stl(folder, "train", stl_images(2, 6), [1, 2])
    write_stl(folder, "test", stl_images(1, 6), [3])
    ds = stl10.build(request(tmp_path, dataset="stl10"))
    touch(folder / "train_y.bin")
    assert stl10.build(request(tmp_path, dataset="stl10")).fingerprint != ds.fingerprint
    (folder / "train_y.bin").write_bytes(bytes([1, 0]))
    with pytest.raises(DataError, match=r"train_y\.bin: label 0; STL-10 labels are the classes"):
        stl10.build(request(tmp_path, dataset="stl10"))
    (folder / "train_y.bin").write_bytes(bytes([1]))
    with pytest.raises(DataError, match=r"train_y\.bin: 1 labels for 2 images"):
        stl10.build(request(tmp_path, dataset="stl10"))
    stale = pickle.loads(pickle.dumps(stl10.build(request(tmp_path, "test", dataset="stl10"))))
    (folder / "test_X.bin").write_bytes(b"")  # shorter than when the data set was built
    with pytest.raises(DataError, match=r"cannot read .*test_X\.bin"):
        stale[0]
    with open(folder / "train_X.bin", "ab") as f:
        f.write(b"x")
    with pytest.raises(DataError, match=r"train_X\.bin: 55297 bytes is not a whole number"):
        stl10.build(request(tmp_path, dataset="stl10"))


# -- celeba -----------------------------------------------------------------------------------

def write_celeba(root, partitions):
    folder = root / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for name in partitions:
        pixels = rng.integers(0, 256, (22, 18, 3), dtype=np.uint8)  # 18 wide, 22 high
        Image.fromarray(pixels).save(folder / name, quality=95)
    lines = "".join(f"{name} {part}\n" for name, part in partitions.items())
    (root / "celeba" / "list_eval_partition.txt").write_text(lines)
    return folder


def test_celeba_reads_the_partition_and_keeps_native_size(tmp_path):
    folder = write_celeba(tmp_path, {"000001.jpg": 0, "000002.jpg": 1, "000003.jpg": 2,
                                     "000004.jpg": 0})
    train = celeba.build(request(tmp_path, options=CelebAOptions(), dataset="celeba"))
    assert train.names == ["000001.jpg", "000004.jpg"] and train.num_classes is None
    image, label = train[1]
    assert image.shape == (3, 22, 18) and image.dtype == torch.uint8 and label == 0
    with Image.open(folder / "000004.jpg") as img:
        assert torch.equal(image, torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy()))
    test = celeba.build(request(tmp_path, "test", dataset="celeba"))
    assert test.names == ["000003.jpg"]
    assert CelebAOptions().crop == "center"
    with pytest.raises(ValidationError):
        CelebAOptions(crop="zoom")

    before = train.fingerprint
    assert roundtrip(train).fingerprint == before
    touch(folder / "000004.jpg")
    assert celeba.build(request(tmp_path, dataset="celeba")).fingerprint != before
    assert celeba.build(request(tmp_path, "test", dataset="celeba")).fingerprint != before


def test_celeba_errors(tmp_path):
    with pytest.raises(DataError, match=r"celeba \(train split\) not found under .* \(expected "
                       r".*list_eval_partition\.txt\): set data\.download=true"):
        celeba.build(request(tmp_path, dataset="celeba"))
    folder = write_celeba(tmp_path, {"000001.jpg": 0, "000002.jpg": 0})
    (folder / "000002.jpg").write_bytes(b"not a jpeg")
    ds = celeba.build(request(tmp_path, dataset="celeba"))
    with pytest.raises(DataError, match=r"cannot read image .*000002\.jpg"):
        ds[1]
    (folder / "000001.jpg").unlink()
    with pytest.raises(DataError, match=r"cannot read image .*000001\.jpg"):
        ds[0]
    with pytest.raises(DataError, match=r"cannot read .*000001\.jpg"):
        ds.fingerprint  # noqa: B018
    with pytest.raises(DataError, match=r"lists no image of partition 2 \(the test split\)"):
        celeba.build(request(tmp_path, "test", dataset="celeba"))
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg\n")
    with pytest.raises(DataError, match=r"list_eval_partition\.txt, line 2: '000002\.jpg' is not"):
        celeba.build(request(tmp_path, dataset="celeba"))
