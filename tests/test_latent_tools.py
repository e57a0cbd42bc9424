"""Sampling tools for every model with a latent (`gen.latent_tools`, docs/plugins.md): the
truncation trick (`gen sample --truncation`, `Run.sample(truncation=)`) and spherical
interpolation (`gen sample --interpolate` on a model without an encoder, `Run.interpolate`).

The models: ``toy`` (a GAN: `gen.AdversarialModel`'s latent and generate), ``toy-density``
(no latent) and ``toy-vae`` (encode and decode, no latent), from tests/toy_plugin.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runs import invoke, trained_copies, tree
from PIL import Image
from toy_plugin import ToySpec
from toy_plugin.model import Toy

import gen
from gen.capabilities import capabilities, check_model_class
from gen.errors import UsageError
from gen.images import to_uint8
from gen.latent_tools import slerp, truncate
from gen.report import collect
from gen.report.compare import compare
from gen.sampling import generate_batches, interpolation_batches
from gen.sampling_options import SamplingOptions

_RUNS: dict[str, Path] = {}


@pytest.fixture
def runs(toy_plugins, tmp_path_factory) -> dict[str, Path]:
    """One trained run of each toy model, made once per session; each test gets copies."""
    return trained_copies(_RUNS, ("toy", "toy-density", "toy-vae"), tmp_path_factory)




def spy_on_generate(model) -> list[torch.Tensor]:
    """Record every latent the model's ``generate`` is given (an instance attribute: the class,
    and so its capabilities, are unchanged)."""
    seen: list[torch.Tensor] = []
    real = model.generate

    def generate(z, labels=None):
        seen.append(z.clone())
        return real(z, labels)

    model.generate = generate
    return seen


# --- truncation: the math ---------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.05, 0.5, 1.0, 2.0])
def test_truncate_leaves_no_element_beyond_the_threshold_and_keeps_those_inside(threshold):
    z = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    out = truncate(z, threshold, torch.Generator().manual_seed(1))
    assert out.shape == z.shape and out.dtype == z.dtype
    assert out.abs().max() <= threshold
    inside = z.abs() <= threshold
    assert torch.equal(out[inside], z[inside]), "only the elements beyond T are drawn again"
    assert not torch.equal(out, z.clamp(-threshold, threshold)), "drawn again, not clipped"
    again = truncate(z, threshold, torch.Generator().manual_seed(1))
    assert torch.equal(out, again), "the same generator state gives the same latents"


def test_truncated_elements_follow_the_truncated_normal():
    """The variance of N(0, 1) truncated to [-T, T] is 1 - 2 T phi(T) / (2 Phi(T) - 1)."""
    t = 1.0
    z = truncate(torch.randn(200_000, generator=torch.Generator().manual_seed(0)), t,
                 torch.Generator().manual_seed(1))
    phi = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    variance = 1 - 2 * t * phi / math.erf(t / math.sqrt(2))
    assert abs(z.var().item() - variance) < 0.01 and abs(z.mean().item()) < 0.01


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_a_threshold_must_be_finite_and_above_zero(bad):
    with pytest.raises(UsageError, match="truncation: expected a finite number above 0"):
        SamplingOptions(truncation=bad)
    with pytest.raises(UsageError, match="truncation"):
        truncate(torch.zeros(2, 2), bad)


# --- truncation: what the model is given --------------------------------------------------------


def tiny_gan(num_classes=None, latent_dim=6):
    torch.manual_seed(0)
    data = gen.DataInfo(name="t", channels=1, image_size=4, num_classes=num_classes,
                        num_images=10)
    model = Toy(ToySpec(latent_dim=latent_dim, hidden=8), data)
    model.generator.num_classes = num_classes  # forward ignores labels: enough for the tests
    return model


def test_truncation_passes_generate_only_latents_within_the_threshold_and_is_reproducible():
    model = tiny_gan(latent_dim=64)
    seen = spy_on_generate(model)
    options = SamplingOptions(truncation=0.5)
    first = torch.cat(list(generate_batches(model, 40, seed=3, batch_size=16,
                                            sampling=options)))
    assert [z.shape[0] for z in seen] == [16, 16, 8], "one generate call per batch"
    assert all(z.abs().max() <= 0.5 for z in seen)
    latents, seen[:] = torch.cat(seen), []
    again = torch.cat(list(generate_batches(model, 40, seed=3, batch_size=16,
                                            sampling=options)))
    assert torch.equal(first, again) and torch.equal(torch.cat(seen), latents)
    other = torch.cat(list(generate_batches(model, 40, seed=4, batch_size=16,
                                            sampling=options)))
    assert not torch.equal(first, other)


def test_a_threshold_nothing_exceeds_draws_the_untruncated_samples():
    """generate(latent(n)) is sample(n): truncation changes only the elements beyond T."""
    model = tiny_gan()
    plain = torch.cat(list(generate_batches(model, 20, seed=1, batch_size=8)))
    wide = torch.cat(list(generate_batches(model, 20, seed=1, batch_size=8,
                                           sampling=SamplingOptions(truncation=1e6))))
    assert torch.equal(plain, wide)


def test_run_sample_truncates_the_latents_it_generates_from(runs):
    run = gen.load_run(runs["toy"], device="cpu")
    seen = spy_on_generate(run.model)
    a = run.sample(50, seed=2, batch_size=32, truncation=0.3)
    assert a.shape == (50, 1, 8, 8) and a.dtype == torch.uint8
    assert sum(z.shape[0] for z in seen) == 50 and all(z.abs().max() <= 0.3 for z in seen)
    assert torch.equal(a, run.sample(50, seed=2, batch_size=32, truncation=0.3))
    assert not torch.equal(a, run.sample(50, seed=2, batch_size=32))
    assert run.sampling_settings(truncation=0.3) == {"truncation": 0.3}
    with pytest.raises(UsageError, match="truncation: expected a finite number above 0"):
        run.sample(4, truncation=0)
    with pytest.raises(UsageError, match="temperature and truncation exclude each other"):
        run.sample(4, truncation=1.0, temperature=0.5)


# --- slerp -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(5, 7), (3, 2, 4, 4)])
def test_slerp_ends_on_the_given_latents_exactly(dtype, shape):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(shape, generator=g, dtype=dtype), 3 * torch.randn(shape, generator=g,
                                                                        dtype=dtype)
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert path.shape == (shape[0], 9, *shape[1:]) and path.dtype == dtype
    assert torch.equal(path[:, 0], a) and torch.equal(path[:, -1], b)


def test_slerp_keeps_the_norm_of_unit_vectors_and_follows_the_arc():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(6, 50, generator=g), torch.randn(6, 50, generator=g)
    a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    t = torch.linspace(0, 1, 11)
    path = slerp(a, b, t)
    assert torch.allclose(path.norm(dim=-1), torch.ones(6, 11), atol=1e-5)
    omega = torch.arccos((a * b).sum(1))
    angle_from_a = torch.arccos((path * a[:, None]).sum(-1).clamp(-1, 1))
    assert torch.allclose(angle_from_a, t[None] * omega[:, None], atol=1e-3), "even steps"


def test_slerp_of_parallel_or_zero_vectors_is_the_straight_line():
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    b = torch.tensor([[2.0, 4.0], [1.0, 1.0]])
    path = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.isfinite(path).all()
    assert torch.allclose(path[:, 1], (a + b) / 2)


# --- interpolation ------------------------------------------------------------------------------


def test_interpolation_keeps_one_class_per_row_cycling_or_as_given():
    model = tiny_gan(num_classes=3)
    given: list[torch.Tensor] = []
    real = model.generate
    model.generate = lambda z, labels=None: (given.append(labels), real(z, labels))[1]
    images = torch.cat(list(interpolation_batches(model, rows=4, steps=5, batch_size=7)))
    assert images.shape == (20, 1, 4, 4)
    assert torch.cat(given).tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [0] * 5
    given.clear()
    list(interpolation_batches(model, rows=3, steps=2, labels=torch.tensor([2, 1])))
    assert torch.cat(given).tolist() == [2, 2, 1, 1, 2, 2]


def test_interpolation_strips_end_on_the_drawn_latents():
    model = tiny_gan()
    strips = torch.cat(list(interpolation_batches(model, rows=3, seed=5, steps=6)))
    strips = strips.view(3, 6, 1, 4, 4)
    z = model.latent(6, torch.Generator().manual_seed(5))
    ends = to_uint8(model.generate(z))
    assert torch.equal(strips[:, 0], ends[:3]) and torch.equal(strips[:, -1], ends[3:])
    assert not torch.equal(strips[:, 2], strips[:, 0]), "the middle moves"


def test_gen_sample_interpolate_on_a_gan_writes_rows_of_strips(runs, tmp_path):
    run = runs["toy"]
    result = invoke("sample", run, "--interpolate", "-n", "3", "--seed", "4", "--device",
                    "cpu", "--out", tmp_path / "i.npz")
    assert result.exit_code == 0, result.output
    assert "30 images (interpolate between drawn latents)" in result.output
    images = torch.from_numpy(np.load(tmp_path / "i.npz")["images"])
    assert images.shape == (30, 1, 8, 8)
    assert torch.equal(images, gen.load_run(run, device="cpu").interpolate(3, seed=4))

    result = invoke("sample", run, "--interpolate", "-n", "3", "--device", "cpu")
    assert result.exit_code == 0, result.output
    png = run / "samples" / "interpolate-latents-step-000002-seed-0.png"
    width, height = Image.open(png).size
    assert (width, height) == (10 * (8 + 2) + 2, 3 * (8 + 2) + 2), "3 rows of 10"

    result = invoke("sample", run, "--interpolate", "-n", "2", "--truncation", "0.5",
                    "--device", "cpu", "--out", tmp_path / "t.npz")
    assert result.exit_code == 0, result.output
    saved = np.load(tmp_path / "t.npz")
    assert saved["images"].shape == (20, 1, 8, 8) and saved["truncation"].tolist() == [0.5]


def test_a_vae_keeps_interpolating_held_out_images_unless_asked_for_latents(runs, tmp_path):
    result = invoke("sample", runs["toy-vae"], "--interpolate", "-n", "2", "--device", "cpu",
                    "--out", tmp_path / "v.png")
    assert result.exit_code == 0 and "20 images (interpolate)" in result.output
    result = invoke("sample", runs["toy-vae"], "--interpolate", "--between", "latents",
                    "--device", "cpu", "--out", tmp_path / "w.png")
    assert result.exit_code == 1
    assert "'toy-vae' has no latent and no generate" in result.output
    assert not (tmp_path / "w.png").exists()


# --- records ------------------------------------------------------------------------------------


def test_gen_sample_records_the_truncation_in_the_file_name_and_the_npz(runs, tmp_path):
    run = runs["toy"]
    result = invoke("sample", run, "-n", "8", "--truncation", "0.7", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (run / "samples" / "sample-step-000002-seed-0-trunc0.7.png").is_file()
    assert "8 images (sample, truncation 0.7)" in result.output
    result = invoke("sample", run, "-n", "8", "--truncation", "0.7", "--device", "cpu",
                    "--out", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    saved = np.load(tmp_path / "s.npz")
    assert saved["truncation"].tolist() == [0.7]
    expected = gen.load_run(run, device="cpu").sample(8, truncation=0.7)
    assert np.array_equal(saved["images"], expected.numpy())


def test_gen_evaluate_records_the_truncation_and_a_report_keeps_it_apart(runs, toy_plugins):
    import toy_plugin.iterative  # its toy-pixels extractor

    assert toy_plugins.add(toy_plugin.iterative, "toy-iterative-plugin", "0").ok
    run = runs["toy"]
    quick = ["--metrics", "fid", "-n", "20", "--extractor", "toy-pixels", "--device", "cpu",
             "--json"]
    truncated = invoke("evaluate", run, *quick, "--truncation", "0.5")
    assert truncated.exit_code == 0, truncated.output
    assert json.loads(truncated.stdout)[0]["sampling"] == {"truncation": 0.5}
    plain = invoke("evaluate", run, *quick)
    assert plain.exit_code == 0 and "sampling" not in json.loads(plain.stdout)[0]
    comparison = compare([collect.collect(gen.load_run(run))])
    texts = [c.measurement.text() for c in comparison.columns if c.metric == "fid"]
    assert len(texts) == 2, "truncated scores never share a column with plain ones"
    assert any("truncation 0.5" in t for t in texts), texts


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--truncation", "0"], "Invalid value for '--truncation': 0 is not in the range 0<x."),
    (["--truncation", "-1"], "Invalid value for '--truncation': -1 is not in the range 0<x."),
    (["--truncation", "nan"], "Invalid value for '--truncation': 'nan' is not a finite number"),
    (["--truncation", "inf"], "Invalid value for '--truncation': 'inf' is not a finite number"),
    (["--truncation", "1", "--temperature", "0.5"],
     "--temperature and --truncation exclude each other"),
    (["--truncation", "1", "--reconstruct"], "--truncation applies to drawn samples, not "
     "--reconstruct"),
    (["--between", "latents"], "--between applies to --interpolate"),
])
def test_bad_truncation_and_interpolation_options_exit_2_naming_the_option(runs, args,
                                                                           message):
    run = runs["toy"]
    before = tree(run)
    result = invoke("sample", run, *args, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert tree(run) == before, "nothing written"


@pytest.mark.parametrize("name, args, message", [
    ("toy-density", ["--truncation", "0.5"], "--truncation: model 'toy-density' cannot use it: "
     "it has no latent(n) and generate(z)"),
    ("toy-vae", ["--truncation", "0.5"], "--truncation: model 'toy-vae' cannot use it"),
    ("toy-vae", ["--interpolate", "--truncation", "0.5"], "--truncation applies to "
     "--interpolate between drawn latents (--between latents), not between held-out images"),
])
def test_truncation_on_a_model_without_a_truncatable_latent_exits_2_naming_it(runs, name, args,
                                                                             message):
    run = runs[name]
    before = tree(run)
    result = invoke("sample", run, *args, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert tree(run) == before
    result = invoke("evaluate", run, "--metrics", "fid", "-n", "4", "--truncation", "0.5",
                    "--device", "cpu")
    assert result.exit_code == 2 and "--truncation" in result.output


def test_interpolate_on_a_model_with_neither_latent_nor_encoder_names_both(runs):
    result = invoke("sample", runs["toy-density"], "--interpolate", "--device", "cpu")
    assert result.exit_code == 1
    assert ("--interpolate needs latent and generate (between drawn latents) or encode and "
            "decode (between held-out images); 'toy-density' has neither") in result.output


def test_python_callers_get_the_keyword_named(runs):
    density = gen.load_run(runs["toy-density"], device="cpu")
    with pytest.raises(UsageError, match=r"^truncation: model 'toy-density' cannot use it"):
        density.sample(4, truncation=1.0)
    with pytest.raises(gen.GenError, match="needs latent and generate"):
        density.interpolate(2)
    toy = gen.load_run(runs["toy"], device="cpu")
    with pytest.raises(UsageError, match="steps: expected a whole number of at least 2"):
        toy.interpolate(2, steps=1)
    with pytest.raises(UsageError, match="rows: expected a whole number of at least 1"):
        toy.interpolate(0)
    with pytest.raises(UsageError, match="truncation: expected a finite number above 0"):
        toy.interpolate(2, truncation=float("inf"))
    with pytest.raises(UsageError, match="labels need a conditional model"):
        toy.interpolate(2, labels=[1])


# --- the contract -------------------------------------------------------------------------------


class OneHotLatent(Toy):
    truncatable_latent = False


def test_capabilities_follow_latent_generate_and_the_declaration():
    assert capabilities(Toy) == ["sample", "truncation", "latent-interpolation"]
    assert capabilities(OneHotLatent) == ["sample", "latent-interpolation"]
    model = tiny_gan()
    model.__class__ = OneHotLatent
    with pytest.raises(UsageError, match=r"its latent is not i\.i\.d\. standard normal"):
        SamplingOptions(truncation=1.0).resolve(model)

    class Sloppy(Toy):
        truncatable_latent = "yes"

    assert check_model_class(Sloppy) == [
        "truncatable_latent = 'yes'; expected True or False"]
    assert "truncation" not in capabilities(Sloppy)


def test_list_models_shows_the_latent_capabilities(toy_plugins):
    result = invoke("list-models", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r["capabilities"] for r in json.loads(result.output)}
    assert rows["toy"] == ["sample", "truncation", "latent-interpolation"]
    assert "truncation" not in rows["toy-density"] and "truncation" not in rows["toy-vae"]
    table = invoke("list-models").output
    assert "truncation, latent-interpolation" in table


def test_adversarial_sample_is_generate_of_latent():
    model = tiny_gan()
    model.train(True)
    a = model.sample(5, generator=torch.Generator().manual_seed(2))
    b = model.generate(model.latent(5, torch.Generator().manual_seed(2)))
    assert torch.equal(a, b) and model.generator.training, "eval while generating, restored"
    with torch.enable_grad():
        assert not model.generate(model.latent(2)).requires_grad
