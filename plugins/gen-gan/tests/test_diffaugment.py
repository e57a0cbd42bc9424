"""DiffAugment (model.diffaugment, Zhao et al. 2020): the policies, their wiring into every
adversarial model, gradients, resume, and off by default."""

import pytest
import torch
from gan_helpers import MODELS, Batches, tiny_model

import gen
from gen.errors import SpecError
from gen.plugins import discover
from gen.testing import ModelConformance
from gen_gan import base, losses
from gen_gan.diffaugment import diffaugment

ALL = ["color", "translation", "cutout"]


def images(n=8, channels=3, size=16, seed=0, dtype=torch.float32):
    """Random images in [-1, 1] with no exact zeros (so zero fill and cutout are visible)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, size, size, generator=g, dtype=dtype) * 0.9 + 0.1
    sign = torch.randint(0, 2, x.shape, generator=g).to(dtype) * 2 - 1
    return x * sign


def shifted(image, dy, dx):
    """``image`` (C, H, W) moved down by dy and right by dx, zeros where nothing moved in."""
    _, h, w = image.shape
    out = torch.zeros_like(image)
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def the_shift(original, seen):
    """The one integer shift within 1/8 of the size that turns ``original`` into ``seen``."""
    s = original.shape[-1] // 8
    found = [(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)
             if torch.equal(seen, shifted(original, dy, dx))]
    assert len(found) == 1, f"not a zero-filled shift of the original within +-{s}: {found}"
    return found[0]


# ------------------------------------------------------------------------- off by default

def test_off_by_default_in_every_spec():
    for name in MODELS:
        assert discover().registry.get(name).spec_class()().diffaugment == []


def test_no_policy_is_the_identity_and_draws_no_random_number():
    x, model = images(), tiny_model("dcgan")
    state = torch.get_rng_state()
    assert diffaugment(x, []) is x
    assert model.augment(x) is x
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("name", MODELS)
def test_a_model_without_it_never_calls_the_augmentation(name, monkeypatch):
    def fail(x, policies):
        raise AssertionError("diffaugment called with model.diffaugment empty")

    monkeypatch.setattr(base, "diffaugment", fail)
    torch.manual_seed(0)
    size = 8 if name == "gan" else 16
    tiny_model(name, size=size).train_step(Batches(size=size))


# ------------------------------------------------------------------------------ the spec

def test_spec_accepts_policies_as_a_list_or_the_reference_string():
    cls = discover().registry.get("dcgan").spec_class()
    for override in ('model.diffaugment=["color", "cutout"]', "model.diffaugment=color,cutout",
                     "model.diffaugment=[color,cutout]"):
        assert gen.specs.validate(cls, {}, [override]).model.diffaugment == ["color", "cutout"]


@pytest.mark.parametrize(("value", "path", "words"), [
    (["color", "flip"], "model.diffaugment[1]", "'color', 'translation' or 'cutout'"),
    (["cutout", "cutout"], "model.diffaugment", "allowed: color, translation, cutout"),
    ("colour", "model.diffaugment[0]", "'color', 'translation' or 'cutout'"),
])
def test_a_bad_policy_is_a_spec_error_naming_the_field_and_the_choices(value, path, words):
    cls = discover().registry.get("wgan-gp").spec_class()
    with pytest.raises(SpecError) as err:
        gen.specs.validate(cls, {"model": {"diffaugment": value}})
    [(where, message)] = err.value.problems
    assert where == path and words in message
    with pytest.raises(ValueError, match="allowed: color, translation, cutout"):
        diffaugment(images(), ["flip"])


# ---------------------------------------------------------------------------- the policies

@pytest.mark.parametrize("policies", [["color"], ["translation"], ["cutout"], ALL])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_each_policy_changes_the_images_and_keeps_shape_dtype_device(policies, dtype):
    x = images(dtype=dtype)
    torch.manual_seed(0)
    y = diffaugment(x, policies)
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    changed = [not torch.equal(a, b) for a, b in zip(x, y, strict=True)]
    # A translation may draw no shift for an image (1 in 25 at 16x16); never for all eight.
    assert any(changed) if policies == ["translation"] else all(changed)
    assert torch.equal(x, images(dtype=dtype)), "the input is not modified in place"


def test_translation_is_an_exact_integer_shift_with_zero_fill():
    x = images(n=64, size=16)
    torch.manual_seed(0)
    y = diffaugment(x, ["translation"])
    shifts = [the_shift(a, b) for a, b in zip(x, y, strict=True)]
    assert {dy for dy, _ in shifts} == {dx for _, dx in shifts} == set(range(-2, 3))


def test_cutout_zeroes_exactly_a_half_size_square_clipped_at_the_border():
    x = images(n=64, size=16)
    torch.manual_seed(0)
    y = diffaugment(x, ["cutout"])
    inside = 0
    for a, b in zip(x, y, strict=True):
        zero = (b == 0).all(0)
        assert torch.equal(b[:, ~zero], a[:, ~zero]), "pixels outside the square are untouched"
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        top, left = rows.min().item(), cols.min().item()
        height, width = len(rows), len(cols)
        expected = torch.zeros_like(zero)
        expected[top:top + height, left:left + width] = True
        assert torch.equal(zero, expected), "the zeros form one rectangle"
        # An 8 x 8 square whose centre is in the image: clipped only where it meets a border.
        assert height == 8 or top == 0 or top + height == 16
        assert width == 8 or left == 0 or left + width == 16
        assert height >= 4 and width >= 4
        inside += height == width == 8
    assert inside > 10, "most squares lie wholly inside the image"


def test_color_is_a_per_image_brightness_saturation_contrast():
    """y = k s (x - g) + k (g - M) + M + b per image (g: the grey of each pixel, the mean of its
    channels; M: the image mean) with saturation s ~ U(0, 2), contrast k ~ U(0.5, 1.5),
    brightness b ~ U(-0.5, 0.5), drawn anew for every image."""
    x = images(n=32, channels=3, dtype=torch.float64)
    torch.manual_seed(0)
    y = diffaugment(x, ["color"])
    gx, gy = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    mx, my = x.mean((1, 2, 3), keepdim=True), y.mean((1, 2, 3), keepdim=True)
    ks = ((y - gy) * (x - gx)).sum((1, 2, 3)) / ((x - gx) ** 2).sum((1, 2, 3))
    k = ((gy - my) * (gx - mx)).sum((1, 2, 3)) / ((gx - mx) ** 2).sum((1, 2, 3))
    b = (my - mx).flatten()
    assert torch.allclose(y - gy, ks.view(-1, 1, 1, 1) * (x - gx), atol=1e-12)
    assert torch.allclose(gy - my, k.view(-1, 1, 1, 1) * (gx - mx), atol=1e-12)
    s = ks / k
    assert ((s >= 0) & (s < 2)).all() and ((k >= 0.5) & (k < 1.5)).all()
    assert ((b >= -0.5) & (b < 0.5)).all()
    assert len(set(s.tolist())) == len(set(k.tolist())) == len(set(b.tolist())) == 32
    grey = images(n=4, channels=1)
    torch.manual_seed(0)
    out = diffaugment(grey, ["color"])
    assert out.shape == grey.shape and torch.isfinite(out).all()


# -------------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("policy", ALL)
def test_gradcheck_through_each_policy(policy):
    x = images(n=2, channels=3, size=8, dtype=torch.float64).requires_grad_(True)

    def augmented(x):  # the same draws at every evaluation
        torch.manual_seed(1)
        return diffaugment(x, [policy])

    with torch.random.fork_rng():
        assert torch.autograd.gradcheck(augmented, (x,))


def test_the_generator_gets_gradients_through_the_augmentation():
    torch.manual_seed(0)
    model = tiny_model("dcgan", diffaugment=ALL)
    model.train_step(Batches())
    grads = [p.grad for p in model.generator.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)


# ----------------------------------------------------------------------------- the wiring

class Seen:
    """What the discriminator got and what the generator made during one train_step."""

    def __init__(self, model, batches):
        self.d_inputs, self.fakes, self.batches = [], [], []
        model.discriminator.register_forward_pre_hook(lambda m, args: self.d_inputs.append(args))
        model.generator.register_forward_hook(lambda m, args, out: self.fakes.append(out))

        def next_batch():
            batch = batches()
            self.batches.append(batch)
            return batch

        self.next_batch = next_batch


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_real_and_fake_are_shifted_alike_in_both_updates_and_labels_pass_unchanged(name):
    torch.manual_seed(0)
    model = tiny_model(name, diffaugment=["translation"])
    seen = Seen(model, Batches())
    model.train_step(seen.next_batch)
    [(real, labels)], [fake] = seen.batches, seen.fakes  # n_critic = 1: the fakes are reused
    assert len(seen.d_inputs) == 3  # real and fake for D's update, fake for G's
    shifts = []
    for (x, *y), original in zip(seen.d_inputs, [real, fake, fake], strict=True):
        if name == "cgan":
            assert torch.equal(y[0], labels)
        shifts += [the_shift(a, b) for a, b in zip(original.detach(), x.detach(), strict=True)]
    assert any(s != (0, 0) for s in shifts)
    d_fake, g_fake = seen.d_inputs[1][0], seen.d_inputs[2][0]
    assert not d_fake.requires_grad and g_fake.requires_grad, "G's update sees G's graph"
    assert not torch.equal(d_fake, g_fake), "each look at the fakes draws its own shifts"


@pytest.mark.parametrize("name", MODELS)
def test_every_image_the_discriminator_sees_is_augmented_with_the_same_policies(
    name, monkeypatch
):
    """Real and fake, in the critic's and the generator's updates, for every model; wgan-gp's
    penalty interpolates between the augmented real and fake images."""
    calls, interpolated = [], []
    augment, interpolate = base.diffaugment, losses.interpolate

    def spy_augment(x, policies):
        out = augment(x, policies)
        calls.append((tuple(policies), out))
        return out

    def spy_interpolate(real, fake, generator=None):
        interpolated.append((real, fake))
        return interpolate(real, fake, generator)

    monkeypatch.setattr(base, "diffaugment", spy_augment)
    monkeypatch.setattr(losses, "interpolate", spy_interpolate)
    torch.manual_seed(0)
    size = 8 if name == "gan" else 16
    model = tiny_model(name, size=size, diffaugment=["cutout", "color"])
    seen = Seen(model, Batches(size=size))
    model.train_step(seen.next_batch)

    assert len(calls) == 2 * model.n_critic + 1
    assert {policies for policies, _ in calls} == {("cutout", "color")}
    outputs = [out for _, out in calls]
    direct = [args[0] for args in seen.d_inputs if any(args[0] is o for o in outputs)]
    assert len(direct) == len(outputs), "each augmented batch goes to the discriminator"
    others = len(seen.d_inputs) - len(direct)
    if name == "wgan-gp":
        assert others == len(interpolated) == model.n_critic  # the penalty's interpolates
        for real, fake in interpolated:
            assert any(real is o for o in outputs) and any(fake is o for o in outputs)
    else:
        assert others == 0 and not interpolated


def test_a_model_with_it_trains_under_mixed_precision():
    from gen.runtime import Runtime

    torch.manual_seed(0)
    model = tiny_model("wgan-gp", diffaugment=ALL, n_critic=2)
    model.runtime = Runtime("cpu", "bf16")
    with model.runtime.autocast():
        logs = model.train_step(Batches())
    assert all(torch.isfinite(v) for v in logs.values())


# ------------------------------------------------------------------------------ resume

class TestDCGANWithDiffAugment(ModelConformance):
    """The conformance kit with every policy on: among others, resuming a run is bit-identical
    to an uninterrupted one (the draws come from the checkpointed RNG) and bf16/fp16 steps run."""

    model = "dcgan"
    plugin_module = "gen_gan"
    tiny = {"model.g_features": 4, "model.d_features": 4, "model.latent_dim": 8,
            "data.image_size": 16, "model.diffaugment": ALL}

    def test_the_run_augments(self, tiny_run):
        import json

        spec = json.loads(tiny_run.run.spec_path.read_text())
        assert spec["model"]["diffaugment"] == ALL
