"""The exponential moving average of the generator (model.ema_decay)."""

import pytest
import torch
from gan_helpers import Batches, tiny_model


def test_off_by_default():
    model = tiny_model("dcgan")
    assert "generator_ema" not in model.modules
    assert model.sampler is model.generator
    assert "generator_ema" not in model.state_dict()["modules"]


@pytest.mark.parametrize("name", ["dcgan", "wgan-gp", "cgan"])
def test_average_is_decay_old_plus_one_minus_decay_new(name):
    torch.manual_seed(0)
    model = tiny_model(name, ema_decay=0.9)
    average = model.modules["generator_ema"]
    assert not any(p.requires_grad for p in average.parameters())
    old = [p.clone() for p in average.parameters()]
    model.train_step(Batches())
    new = list(model.generator.parameters())
    for a, o, n in zip(average.parameters(), old, new, strict=True):
        assert torch.allclose(a, 0.9 * o + 0.1 * n, atol=1e-7)
    assert any(not torch.equal(a, n) for a, n in zip(average.parameters(), new, strict=True))
    for a, n in zip(average.buffers(), model.generator.buffers(), strict=True):
        assert torch.equal(a, n), "buffers (batch-norm statistics) are copied"


def test_sample_uses_the_average():
    torch.manual_seed(0)
    model = tiny_model("dcgan", ema_decay=0.5)
    model.train_step(Batches())
    average = model.modules["generator_ema"]
    assert model.sampler is average
    images = model.sample(3, generator=torch.Generator().manual_seed(1))
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    average.eval()
    model.generator.eval()
    assert torch.equal(images, average(z))
    assert not torch.equal(images, model.generator(z))


def test_average_is_saved_and_loaded_with_the_model():
    torch.manual_seed(0)
    model = tiny_model("dcgan", ema_decay=0.9)
    model.train_step(Batches())
    state = model.state_dict()
    assert "generator_ema" in state["modules"]
    fresh = tiny_model("dcgan", ema_decay=0.9)
    fresh.load_state_dict(state)
    for a, b in zip(fresh.modules["generator_ema"].state_dict().values(),
                    model.modules["generator_ema"].state_dict().values(), strict=True):
        assert torch.equal(a, b)
