"""R1/R2 with lazy regularisation, LeCam, separate optimizers (TTUR), the hinge objective in a
model, and the spec errors of combinations that make no sense (naming both fields, exit 2)."""

import math

import pytest
import torch
from gan_helpers import Batches, tiny_model

from gen import specs
from gen.errors import SpecError
from gen.plugins import discover
from gen_gan import regularizers
from gen_gan.regularizers import LeCam, ZeroCentredPenalty, lecam_penalty

W = torch.tensor([[[[1.0, -2.0], [0.5, 3.0]]]])


def quadratic_d(x):
    """D(x) = 1/2 sum(w x^2) per image: grad_x D = w x, so ||grad||^2 = sum((w x)^2)."""
    return 0.5 * (W * x**2).flatten(1).sum(1)


def by_hand(points):
    return ((W * points) ** 2).flatten(1).sum(1).mean().item()


def test_r1_is_gamma_half_the_squared_gradient_norm_at_the_real_images():
    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2) * 3
    r1 = ZeroCentredPenalty(r1_gamma=4.0, r2_gamma=0.0).penalty(quadratic_d, real, fake)
    assert math.isclose(r1.item(), 4.0 / 2 * by_hand(real), rel_tol=1e-6)
    r2 = ZeroCentredPenalty(r1_gamma=0.0, r2_gamma=4.0).penalty(quadratic_d, real, fake)
    assert math.isclose(r2.item(), 4.0 / 2 * by_hand(fake), rel_tol=1e-6)
    both = ZeroCentredPenalty(r1_gamma=1.0, r2_gamma=3.0).penalty(quadratic_d, real, fake)
    assert math.isclose(both.item(), by_hand(real) / 2 + 1.5 * by_hand(fake), rel_tol=1e-6)


def test_r1_equals_autograd_per_image_on_a_network_and_reaches_its_weights():
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 8), torch.nn.Tanh(),
                            torch.nn.Linear(8, 1))
    score = lambda x: d(x).squeeze(1)  # noqa: E731
    real = torch.randn(3, 1, 2, 2)
    norms = []
    for image in real:
        point = image[None].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(score(point).sum(), point)
        norms.append(grad.pow(2).sum().item())
    value = regularizers.squared_gradient_norm(score, real)
    assert math.isclose(value.item(), sum(norms) / 3, rel_tol=1e-5)
    value.backward()  # differentiable in D's weights (create_graph)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters()
               if p.dim() > 1)


def test_lazy_r1_comes_every_kth_update_scaled_by_k():
    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    lazy = ZeroCentredPenalty(r1_gamma=2.0, r2_gamma=0.0, every=3)
    values = [lazy.penalty(quadratic_d, real, fake) for _ in range(7)]
    due = [v is not None for v in values]
    assert due == [True, False, False, True, False, False, True]
    assert math.isclose(values[3].item(), 3 * 2.0 / 2 * by_hand(real), rel_tol=1e-6)
    assert int(lazy.updates) == 7 and lazy.r1.item() == pytest.approx(by_hand(real))
    again = ZeroCentredPenalty(r1_gamma=2.0, r2_gamma=0.0, every=3)
    again.load_state_dict(lazy.state_dict())  # resumed: the count goes on (7 % 3 != 0)
    assert again.penalty(quadratic_d, real, fake) is None


def test_the_model_adds_the_lazy_penalty_to_the_discriminator_loss(monkeypatch):
    torch.manual_seed(0)
    model = tiny_model("hinge", backbone="mlp", g_hidden=[16], d_hidden=[16], dropout=0.0,
                       r1_gamma=0.5, reg_every=2, size=8)
    real, fake = torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 1, 8, 8) * 2 - 1
    plain, _ = model.critic_loss(real, fake, None)
    r1 = regularizers.squared_gradient_norm(model.discriminator, real)
    first, logs = model.regularised_critic_loss(real, fake, None)
    assert torch.allclose(first, plain + 2 * 0.5 / 2 * r1, rtol=1e-5)
    assert torch.allclose(logs["r1"], r1.detach())
    second, logs = model.regularised_critic_loss(real, fake, None)
    assert torch.allclose(second, plain) and "r1" in logs  # the last value, still logged
    calls = []
    monkeypatch.setattr(regularizers, "squared_gradient_norm",
                        lambda s, p: calls.append(1) or torch.zeros(()))
    for _ in range(4):
        model.train_step(Batches(size=8))
    assert len(calls) == 2


def test_lecam_anchors_follow_the_moving_average_and_the_penalty_by_hand():
    lecam = LeCam(decay=0.9)
    batches = [(torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0])),
               (torch.tensor([4.0, 4.0]), torch.tensor([2.0, 1.0])),
               (torch.tensor([0.0, 1.0]), torch.tensor([-2.0, -4.0]))]
    a_real, a_fake = None, None
    for real, fake in batches:
        value = lecam.penalty(real, fake)
        if a_real is None:  # the first update sets the anchors
            a_real, a_fake = real.mean().item(), fake.mean().item()
        else:
            a_real = 0.9 * a_real + 0.1 * real.mean().item()
            a_fake = 0.9 * a_fake + 0.1 * fake.mean().item()
        assert lecam.anchor_real.item() == pytest.approx(a_real)
        assert lecam.anchor_fake.item() == pytest.approx(a_fake)
        expected = (sum(max(r - a_fake, 0) ** 2 for r in real.tolist()) / len(real)
                    + sum(max(a_real - f, 0) ** 2 for f in fake.tolist()) / len(fake))
        assert value.item() == pytest.approx(expected)
    assert set(lecam.state_dict()) == {"anchor_real", "anchor_fake", "updates"}
    assert lecam_penalty(torch.tensor([0.0]), torch.tensor([5.0]), torch.tensor(1.0),
                         torch.tensor(2.0)).item() == 0  # both on the right side


def test_the_model_keeps_its_regulariser_state_in_modules_only_when_on():
    model = tiny_model("dcgan", lecam_weight=0.1, r1_gamma=1.0, d_norm="none")
    assert {"lecam", "penalty"} <= set(model.modules)
    logs = model.train_step(Batches())
    assert {"lecam", "r1"} <= set(logs) and int(model.modules["lecam"].updates) == 1
    assert set(tiny_model("dcgan").modules) == {"generator", "discriminator"}


def test_each_network_gets_its_own_optimizer():
    fast = {"name": "adam", "lr": 4e-4, "betas": (0.0, 0.9)}
    model = tiny_model("hinge", d_optimizer=fast)
    d, g = model.optimizers["discriminator"], model.optimizers["generator"]
    assert d.param_groups[0]["lr"] == 4e-4 and d.param_groups[0]["betas"] == (0.0, 0.9)
    assert g.param_groups[0]["lr"] == 2e-4 and g.param_groups[0]["betas"] == (0.5, 0.999)
    both = tiny_model("wgan", g_optimizer={"name": "adam", "lr": 1e-4},
                      d_optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.5})
    assert isinstance(both.optimizers["discriminator"], torch.optim.SGD)
    assert both.optimizers["discriminator"].param_groups[0]["momentum"] == 0.5
    assert isinstance(both.optimizers["generator"], torch.optim.Adam)
    assert both.optimizers["generator"].param_groups[0]["lr"] == 1e-4


def test_hinge_model_trains_on_its_loss():
    model = tiny_model("hinge")
    real, fake = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    torch.manual_seed(0)
    loss, logs = model.critic_loss(real, fake, None)
    torch.manual_seed(0)
    r, f = model.discriminator(real), model.discriminator(fake)
    assert torch.allclose(loss, torch.relu(1 - r).mean() + torch.relu(1 + f).mean(), atol=1e-6)
    assert torch.allclose(logs["d_acc_real"], (r > 0).float().mean())
    g_loss, _ = model.generator_loss(fake, None)
    assert torch.allclose(g_loss, -model.discriminator(fake).mean(), atol=1e-6)


def problems(model, sets):
    with pytest.raises(SpecError) as err:
        specs.validate(discover().registry.get(model).spec_class(), {}, sets)
    return err.value.problems


@pytest.mark.parametrize("model,sets,fields", [
    ("wgan", ["model.r1_gamma=1"], ["model.r1_gamma", "model.name", "model.clip"]),
    ("wgan", ["model.r2_gamma=1", "model.backbone=mlp"], ["model.r2_gamma", "model.name"]),
    ("wgan-gp", ["model.r1_gamma=1"], ["model.r1_gamma", "model.gp_weight"]),
    ("dcgan", ["model.r1_gamma=1", "model.d_norm=batch"], ["model.d_norm", "model.r1_gamma"]),
    ("hinge", ["model.reg_every=16"], ["model.reg_every", "model.r1_gamma"]),
    ("wgan-gp", ["model.ada_target=0.6"], ["model.ada_target", "model.name"]),
    ("dcgan", ["model.ada_target=0.6", "model.diffaugment=color"],
     ["model.ada_target", "model.diffaugment"]),
])
def test_a_combination_that_makes_no_sense_names_both_fields(model, sets, fields):
    found = problems(model, sets)
    text = " ".join(f"{path}: {message}" for path, message in found)
    for field in fields:
        assert field in text, (field, text)


@pytest.mark.parametrize("setting,path", [
    ("model.r1_gamma=-1", "model.r1_gamma"), ("model.r2_gamma=-0.5", "model.r2_gamma"),
    ("model.reg_every=0", "model.reg_every"), ("model.lecam_weight=-1", "model.lecam_weight"),
    ("model.lecam_decay=1", "model.lecam_decay"), ("model.ada_target=1", "model.ada_target"),
    ("model.ada_target=0", "model.ada_target"), ("model.ada_interval=0", "model.ada_interval"),
    ("model.conditioning=both", "model.conditioning"),
])
def test_every_new_field_is_validated_with_its_range(setting, path):
    assert [p for p, _ in problems("hinge", [setting])] == [path]


def test_what_makes_sense_is_accepted():
    cls = discover().registry.get("wgan-gp").spec_class()
    spec = specs.validate(cls, {}, ["model.gp_weight=0", "model.r1_gamma=1"])  # R1 replaces GP
    assert spec.model.discriminator_norm == "layer"
    dcgan = discover().registry.get("dcgan").spec_class()
    spec = specs.validate(dcgan, {}, ["model.r1_gamma=1", "model.reg_every=16"])
    assert spec.model.discriminator_norm == "layer"  # batch norm is not the default under R1
