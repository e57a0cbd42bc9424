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
