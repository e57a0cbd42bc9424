"""The adversarial losses against hand computations on tiny tensors."""

import math

import torch

from gen_gan import losses


def test_discriminator_loss_is_minimax_value_by_hand():
    real = torch.tensor([2.0, -1.0])
    fake = torch.tensor([0.5, -3.0])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    by_hand = -(math.log(sig(2.0)) + math.log(sig(-1.0))) / 2 - (
        math.log(1 - sig(0.5)) + math.log(1 - sig(-3.0))
    ) / 2
    assert math.isclose(losses.discriminator_loss(real, fake).item(), by_hand, rel_tol=1e-6)


def test_generator_loss_is_non_saturating():
    fake = torch.tensor([0.5, -3.0])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    by_hand = -(math.log(sig(0.5)) + math.log(sig(-3.0))) / 2
    assert math.isclose(losses.generator_loss_nonsaturating(fake).item(), by_hand, rel_tol=1e-6)
    # The point of the non-saturating form: a confident discriminator (very negative logits on
    # fakes) still gives the generator a gradient near 1 rather than near 0.
    logits = torch.tensor([-10.0], requires_grad=True)
    losses.generator_loss_nonsaturating(logits).backward()
    assert logits.grad.abs().item() > 0.99


def test_least_squares_losses_by_hand():
    real = torch.tensor([0.5, 2.0])
    fake = torch.tensor([-1.0, 0.25])
    # Default 0-1 coding (a, b, c) = (0, 1, 1), eq. 10 of Mao et al. 2017.
    d = 0.5 * ((0.5 - 1) ** 2 + (2.0 - 1) ** 2) / 2 + 0.5 * ((-1.0) ** 2 + 0.25**2) / 2
    g = 0.5 * ((-1.0 - 1) ** 2 + (0.25 - 1) ** 2) / 2
    assert math.isclose(losses.least_squares_discriminator_loss(real, fake).item(), d)
    assert math.isclose(losses.least_squares_generator_loss(fake).item(), g)
    # (a, b, c) = (-1, 1, 0), eq. 9.
    d = 0.5 * ((0.5 - 1) ** 2 + (2.0 - 1) ** 2) / 2 + 0.5 * (0.0**2 + 1.25**2) / 2
    g = 0.5 * ((-1.0) ** 2 + 0.25**2) / 2
    assert math.isclose(
        losses.least_squares_discriminator_loss(real, fake, a=-1, b=1).item(), d
    )
    assert math.isclose(losses.least_squares_generator_loss(fake, c=0).item(), g)


def test_hinge_losses_by_hand():
    """Lim & Ye 2017 / Miyato et al. 2018: D pays only inside the margin, G is linear."""
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - r): 0, 0.5, 2
    fake = torch.tensor([-3.0, 0.25])  # relu(1 + f): 0, 1.25
    d = (0 + 0.5 + 2) / 3 + (0 + 1.25) / 2
    assert math.isclose(losses.hinge_discriminator_loss(real, fake).item(), d, rel_tol=1e-6)
    assert math.isclose(losses.hinge_generator_loss(fake).item(), (3.0 - 0.25) / 2)
    # Beyond the margin there is no gradient for D; the generator's gradient never vanishes.
    r = torch.tensor([1.5, 0.5], requires_grad=True)
    f = torch.tensor([-1.5, -0.5], requires_grad=True)
    losses.hinge_discriminator_loss(r, f).backward()
    assert r.grad.tolist() == [0.0, -0.5] and f.grad.tolist() == [0.0, 0.5]
    g = torch.tensor([-50.0, 3.0], requires_grad=True)
    losses.hinge_generator_loss(g).backward()
    assert g.grad.tolist() == [-0.5, -0.5]


def test_wasserstein_losses_by_hand():
    real = torch.tensor([1.0, 3.0])
    fake = torch.tensor([-2.0, 0.0, 0.5])
    # The critic maximises mean f(x) - mean f(G(z)) = 2 - (-0.5) = 2.5, so its loss is -2.5.
    assert math.isclose(losses.wasserstein_critic_loss(real, fake).item(), -2.5)
    assert math.isclose(losses.wasserstein_generator_loss(fake).item(), 0.5)


def test_interpolates_draw_one_alpha_per_sample():
    real = torch.rand(4, 2, 3, 3)
    fake = -torch.rand(4, 2, 3, 3)
    points, alpha = losses.interpolate(real, fake, torch.Generator().manual_seed(0))
    assert alpha.shape == (4, 1, 1, 1)
    assert ((alpha >= 0) & (alpha <= 1)).all()
    assert torch.allclose(points, alpha * real + (1 - alpha) * fake)
    # Every pixel of an image sits at the same fraction of the way from fake to real.
    fraction = (points - fake) / (real - fake)
    assert torch.allclose(fraction, fraction[:, :1, :1, :1].expand_as(fraction), atol=1e-5)
    assert len(set(alpha.flatten().tolist())) == 4


def test_gradient_penalty_on_a_linear_critic():
    """f(x) = <w, x> has gradient w everywhere, so the penalty is (||w|| - 1)^2 exactly, and
    its gradient with respect to w is 2 (||w|| - 1) w / ||w||."""
    w = torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]], requires_grad=True)  # ||w|| = 5
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    points = torch.randn(6, 1, 2, 2)
    penalty = losses.gradient_penalty(critic, points)
    assert math.isclose(penalty.item(), (5 - 1) ** 2, rel_tol=1e-6)
    penalty.backward()
    assert torch.allclose(w.grad, 2 * (5 - 1) * w.detach() / 5)
    # A 1-Lipschitz linear critic (||w|| = 1) is not penalised.
    unit = torch.tensor([[[[0.6, 0.0], [0.8, 0.0]]]])
    ok = losses.gradient_penalty(lambda x: (x * unit).flatten(1).sum(1), points)
    assert ok.item() < 1e-10


def test_auxiliary_classifier_loss_is_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = torch.tensor([0, 1])

    def log_softmax(row, k):
        return row[k] - math.log(sum(math.exp(v) for v in row))

    by_hand = -(log_softmax([2.0, 0.0, -1.0], 0) + log_softmax([0.5, 0.5, 3.0], 1)) / 2
    value = losses.auxiliary_classifier_loss(logits, labels).item()
    assert math.isclose(value, by_hand, rel_tol=1e-6)


def test_decision_accuracy_counts_each_side_of_the_threshold():
    real = torch.tensor([2.0, -1.0, 0.5, 3.0])  # 3 of 4 above 0
    fake = torch.tensor([0.5, -3.0])  # 1 of 2 at or below 0
    acc = losses.decision_accuracy(real, fake)
    assert (acc["d_acc_real"].item(), acc["d_acc_fake"].item()) == (0.75, 0.5)
    moved = losses.decision_accuracy(real, fake, threshold=1.0)  # LSGAN's halfway point, say
    assert (moved["d_acc_real"].item(), moved["d_acc_fake"].item()) == (0.5, 1.0)
