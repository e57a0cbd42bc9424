"""Reference statistics: `gen stats` fits a reference set's features into a file, `gen evaluate
--reference-stats FILE` scores FID against it (the same number as against the images), every
file that does not fit the evaluation is refused before any work, and published statistics are
downloaded, hash-checked and converted (here from file:// URLs: no network in tests).

Features come from the lenet extractor on bundled MNIST at 16x16, trained once per session.
"""

import dataclasses
import hashlib
import json
from contextlib import nullcontext
from urllib.error import URLError

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import gen
import gen.evaluation.published as published
from gen.cli.main import cli
from gen.data.datasets import load_dataset
from gen.errors import GenWarning
from gen.evaluation.quality import reference_order
from gen.evaluation.reference_stats import check_extractor, load_reference_stats
from gen.extractors.base import ExtractorRequest, build_extractor, extract
from gen.extractors.cache import file_sha256
from gen.plugins import Plugins
from gen.specs import DataSpec

SIZE = 16
TINY = ["--set", f"data.image_size={SIZE}", "--set", "train.device=cpu", "-q"]


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gen-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache, monkeypatch):
    monkeypatch.setenv("GEN_CACHE", str(cache))


@pytest.fixture(scope="session")
def extractor(cache):
    core = Plugins()
    assert core.add_core().ok
    request = ExtractorRequest(DataSpec(image_size=SIZE), channels=1, image_size=SIZE,
                               cache=cache / "extractors")
    return build_extractor(core, "lenet", request)


@pytest.fixture(scope="session")
def test_images():
    return load_dataset(DataSpec(image_size=SIZE, split="test")).images


@pytest.fixture
def plugins(toy_plugins):
    toy_plugins.add_core()
    return toy_plugins


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def make_stats(out, *args):
    result = invoke("stats", "bundled-mnist", "--image-size", SIZE, "--out", out, *args)
    assert result.exit_code == 0, result.output
    return load_reference_stats(out)


@pytest.fixture
def run(plugins, tmp_path):
    out = tmp_path / "run"
    result = invoke("train", "toy", "--out", out, *TINY, "--set", "train.steps=5")
    assert result.exit_code == 0, result.output
    return out


def evaluate_json(run, *args):
    result = invoke("evaluate", run, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- gen stats ---------------------------------------------------------------------------------


def test_a_stats_file_holds_the_features_mean_and_covariance(plugins, tmp_path, extractor,
                                                             test_images):
    stats = make_stats(tmp_path / "all.npz")
    features = extract(extractor, test_images).numpy()
    np.testing.assert_allclose(stats.mu, features.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(features, rowvar=False), rtol=1e-7,
                               atol=1e-9)
    assert stats.mu.dtype == stats.sigma.dtype == np.float64
    assert stats.n == 1000 and stats.shape == (1, SIZE)
    meta = stats.meta
    assert (meta["extractor"], meta["extractor_hash"]) == ("lenet", extractor.weights_hash)
    assert meta["fid_convention"] == "torch-fidelity" and meta["gen_version"]
    assert meta["data"]["dataset"] == "bundled-mnist" and meta["data"]["split"] == "test"
    digest = hashlib.sha256(str(tuple(test_images.shape)).encode())
    digest.update(test_images.contiguous().numpy().tobytes())
    assert meta["fingerprint"] == "sha256:" + digest.hexdigest()
    assert stats.sha256 == file_sha256(tmp_path / "all.npz")

    part = make_stats(tmp_path / "part.npz", "-n", 300, "--seed", 3)
    idx = reference_order(1000, 3)[:300]
    features = extract(extractor, test_images[idx]).numpy()
    np.testing.assert_allclose(part.mu, features.mean(axis=0), rtol=1e-10, atol=1e-12)
    assert part.n == 300 and part.meta["fingerprint"] != meta["fingerprint"]


def test_stats_refuse_bad_input_and_write_nothing(plugins, tmp_path):
    out = tmp_path / "s.npz"
    taken = tmp_path / "taken.npz"
    taken.write_bytes(b"the user's file")
    cases = [
        (["bundled-mnist", "--out", taken], 2, f"--out {taken} exists; pass --force"),
        (["bundled-mnist", "--out", tmp_path / "s.txt"], 2, "--out must end in .npz"),
        (["mnsit", "--out", out], 2, "Did you mean 'mnist'?"),
        ([str(tmp_path / "nowhere") + "/", "--out", out], 1, "nowhere/ not found"),
        (["mnist", "--out", out, "--set", f"data.root={tmp_path}"], 1,
         "set data.download=true"),
        (["bundled-mnist", "--out", out, "--extractor", "lenett"], 2,
         "unknown feature extractor 'lenett'"),
        (["bundled-mnist", "--out", out, "--set", "train.steps=3"], 2,
         "--set train.steps=3: gen stats sets fields of the data spec"),
        (["bundled-mnist", "--out", out, "--set", "data.binarize=maybe"], 2, "data.binarize"),
        (["--out", out], 2, "name the images as DATA"),
        (["bundled-mnist", "--published", "x", "--out", out], 2, "leave out DATA"),
    ]
    for args, code, message in cases:
        result = invoke("stats", *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not out.exists() and taken.read_bytes() == b"the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.npz"]


# --- gen evaluate --reference-stats ------------------------------------------------------------


@pytest.mark.parametrize(("n", "seed"), [(1000, 0), (300, 3)])
def test_fid_against_stats_equals_fid_against_the_same_images(run, tmp_path, n, seed):
    stats_file = tmp_path / "s.npz"
    make_stats(stats_file, "-n", n, "--seed", seed)
    common = ["--metrics", "fid", "-n", n, "--seed", seed]
    [images] = evaluate_json(run, *common)
    [stats] = evaluate_json(run, *common, "--reference-stats", stats_file)
    assert stats["value"] == pytest.approx(images["value"], abs=1e-6)
    assert (stats["real_images"], stats["generated_images"]) == (n, n)
    assert stats["split"] == str(stats_file)
    assert stats["reference_stats"]["file"] == str(stats_file)
    assert stats["reference_stats"]["sha256"] == file_sha256(stats_file)
    assert stats["reference_stats"]["n"] == n
    assert stats["reference_stats"]["extractor_hash"] == images["extractor_hash"]
    assert stats["reference_data"] == images["reference_data"]
    small = pytest.warns(GenWarning, match="rank-deficient") if n <= 512 else nullcontext()
    with small:  # lenet's 512 features
        record = gen.load_run(run).evaluate("fid", n=n, seed=seed, record=False,
                                            reference_stats=str(stats_file))["fid"]
    assert record["value"] == stats["value"]


def test_without_metrics_stats_score_fid_alone(run, tmp_path):
    stats_file = tmp_path / "s.npz"
    make_stats(stats_file)
    result = invoke("evaluate", run, "-n", 50, "--reference-stats", stats_file, "--json")
    assert result.exit_code == 0, result.output
    assert [r["metric"] for r in json.loads(result.stdout)] == ["fid"]


def test_the_inception_score_alone_extracts_no_reference_features(run, monkeypatch):
    import gen.evaluation.quality as quality

    seen = []
    real_extract = quality.extract

    def counting(extractor, images, *args):
        seen.append(images.shape[0])
        return real_extract(extractor, images, *args)

    monkeypatch.setattr(quality, "extract", counting)
    [record] = evaluate_json(run, "--metrics", "is", "-n", 40, "--batch-size", 40)
    assert seen == [40], "only the generated images are featurised"
    assert record["real_images"] == 0 and record["generated_images"] == 40


def _rewrite(source, target, **changes):
    with np.load(source) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.items():
        where = arrays if key in ("mu", "sigma", "n") else meta
        if value is None:
            where.pop(key)
        else:
            where[key] = value
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(target, **arrays)
    return target


def test_stats_that_do_not_fit_are_refused_before_any_work(run, tmp_path, monkeypatch):
    good = tmp_path / "good.npz"
    make_stats(good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:5000])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(bytes(range(256)) * 40)
    cases = [
        ([tmp_path / "none.npz"], 1, f"--reference-stats {tmp_path / 'none.npz'}: no such file"),
        ([cut], 1, f"--reference-stats {cut}: cannot read it as an .npz file"),
        ([junk], 1, f"--reference-stats {junk}: cannot read it"),
        ([_rewrite(good, tmp_path / "nosigma.npz", sigma=None)], 1, "no sigma in it"),
        ([_rewrite(good, tmp_path / "shape.npz", sigma=np.eye(3))], 1,
         "sigma is float64 of shape (3, 3), expected (512, 512)"),
        ([_rewrite(good, tmp_path / "meta.npz", extractor_hash=None)], 1,
         "meta has no extractor_hash"),
        ([good, "--extractor", "inception"], 2, "holds features of extractor 'lenet', not "
                                                "'inception'"),
        ([good, "--fid-convention", "clean-fid"], 2, "was made with --fid-convention "
                                                     "torch-fidelity, not clean-fid"),
        ([_rewrite(good, tmp_path / "weights.npz", extractor_hash="sha256:" + "0" * 64)], 2,
         "holds features of lenet weights sha256:0000"),
        ([_rewrite(good, tmp_path / "size.npz", image_size=28)], 2,
         "is of 1x28x28 images, but the samples are scored as 1x16x16"),
        ([good, "--metrics", "fid,kid,precision"], 2, "kid, precision need the reference "
                                                      "images' features"),
        ([good, "--floor"], 2, "--floor draws reference images twice, and --reference-stats "
                               "holds none"),
    ]
    metrics = (run / "metrics.jsonl").read_bytes()

    def no_sampling(*args, **kwargs):
        raise AssertionError("a refused evaluation drew samples")

    monkeypatch.setattr("gen.evaluation.quality.generate_batches", no_sampling)
    for (path, *extra), code, message in cases:
        args = ["--metrics", "fid", "-n", 50, "--reference-stats", path, *extra]
        if "--metrics" in extra:
            args = args[2:]
        result = invoke("evaluate", run, *args)
        assert result.exit_code == code, (path, result.output)
        assert message in result.output, (path, result.output)
        assert result.output.count("error:") == 1 and "Traceback" not in result.output
        assert result.output.strip().count("\n") == 0, result.output
    assert (run / "metrics.jsonl").read_bytes() == metrics, "no record written"


# --- published statistics ----------------------------------------------------------------------


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    """A clean-fid-like file served from a file:// URL, as catalogue entry 'test'; an empty
    GEN_CACHE to download it into."""
    source = tmp_path / "served" / "cifar10_clean_train_32.npz"
    source.parent.mkdir()
    rng = np.random.default_rng(0)
    np.savez(source, mu=rng.normal(size=2048).astype(np.float32),
             sigma=np.eye(2048, dtype=np.float32))
    entry = dataclasses.replace(published.CATALOGUE["clean-fid:cifar10-train-32-clean"],
                                url=source.as_uri())
    monkeypatch.setitem(published.CATALOGUE, "test", entry)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GEN_CACHE", str(cache))
    return source, cache / "reference-stats" / "clean-fid" / source.name


def test_published_stats_are_downloaded_and_converted(plugins, tmp_path, catalogue):
    source, cached = catalogue
    out = tmp_path / "cifar.npz"
    result = invoke("stats", "--published", "test", "--out", out)
    assert result.exit_code == 0, result.output
    stats = load_reference_stats(out)
    with np.load(source) as f:
        np.testing.assert_array_equal(stats.mu, f["mu"].astype(np.float64))
    assert stats.n == 50_000 and stats.shape == (3, 32)
    assert stats.meta["extractor"] == "inception"
    assert stats.meta["fid_convention"] == "clean-fid"
    origin = stats.meta["source"]
    assert origin["sha256"] == file_sha256(source) and not origin["sha256_pinned"]
    assert origin["library"] == "clean-fid" and origin["mode"] == "clean"
    assert cached.is_file()

    class Inception(torch.nn.Module):
        name, num_features = "inception", 2048
        weights_hash = "sha256:6726825d" + "0" * 56

    check_extractor(stats, Inception())  # the published FID weights: accepted
    Inception.weights_hash = "sha256:" + "1" * 64
    with pytest.raises(gen.UsageError, match="holds features of inception weights"):
        check_extractor(stats, Inception())


def test_a_published_file_of_another_hash_is_refused_and_not_kept(plugins, tmp_path, catalogue,
                                                                  monkeypatch):
    source, cached = catalogue
    entry = dataclasses.replace(published.CATALOGUE["test"], sha256="0" * 64)
    monkeypatch.setitem(published.CATALOGUE, "test", entry)
    out = tmp_path / "cifar.npz"
    result = invoke("stats", "--published", "test", "--out", out)
    assert result.exit_code == 1, result.output
    assert f"{cached} ({source.as_uri()}) has sha256 {file_sha256(source)}, not the " \
           "published 0000" in result.output
    assert not out.exists()
    assert not any(p.is_file() for p in cached.parents[1].rglob("*")), "nothing kept"


def test_no_network_is_a_clear_error_and_a_cached_file_needs_none(plugins, tmp_path, catalogue,
                                                                   monkeypatch):
    source, cached = catalogue
    online = published.urllib.request.urlopen

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(published.urllib.request, "urlopen", offline)
    out = tmp_path / "cifar.npz"
    result = invoke("stats", "--published", "test", "--out", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"cannot download {source.as_uri()} (no network); where a network allows, " \
           f"download it and put it at {cached}" in result.output
    assert not out.exists() and not cached.exists()
    monkeypatch.setattr(published.urllib.request, "urlopen", online)
    assert invoke("stats", "--published", "test", "--out", out).exit_code == 0
    monkeypatch.setattr(published.urllib.request, "urlopen", offline)
    again = invoke("stats", "--published", "test", "--out", tmp_path / "again.npz")
    assert again.exit_code == 0, again.output
    result = invoke("stats", "--published", "nope", "--out", tmp_path / "x.npz")
    assert result.exit_code == 2 and "--published: unknown statistics 'nope'; known: " \
        "clean-fid:cifar10-train-32-clean" in result.output
