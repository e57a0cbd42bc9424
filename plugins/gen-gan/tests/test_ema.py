"""The exponential moving average of the generator (model.ema_decay)."""

import pytest
import torch
from gan_helpers import Batches, tiny_model

from gen_gan import ema


def test_off_by_default():
    model = tiny_model("dcgan")
    assert "generator_ema" not in model.modules
    assert model.sampler is model.generator
    assert "generator_ema" not in model.state_dict()["modules"]


@pytest.mark.parametrize(("updates", "expected"), [
    (0, 1 / 10), (1, 2 / 11), (10, 11 / 20), (1000, 1001 / 1010), (10**6, 0.999),
])
def test_decay_warms_up_as_tensorflow_num_updates(updates, expected):
    d = ema.warmed_decay(0.999, torch.tensor(updates))
    assert d.item() == pytest.approx(expected, rel=1e-6)


def _bn_statistics(module):
    return {k: v.clone() for k, v in module.named_buffers() if "running" in k}


@pytest.mark.parametrize("name", ["dcgan", "wgan-gp", "cgan"])
def test_average_follows_the_warmed_decay(name):
    """Parameters and batch-norm running statistics alike: d * old + (1 - d) * live, with d from
    the warm-up (0.1 at the first update, 2/11 at the second), and the count goes up by one."""
    torch.manual_seed(0)
    model = tiny_model(name, ema_decay=0.9)
    average = model.modules["generator_ema"]
    assert not any(p.requires_grad for p in average.parameters())
    batches = Batches()
    for step, d in enumerate([0.1, 2 / 11]):
        old = [p.clone() for p in average.parameters()]
        old_stats = _bn_statistics(average)
        model.train_step(batches)
        for a, o, n in zip(average.parameters(), old, model.generator.parameters(), strict=True):
            assert torch.allclose(a, d * o + (1 - d) * n, atol=1e-6)
        live = dict(model.generator.named_buffers())
        for key, o in old_stats.items():
            assert torch.allclose(average.get_buffer(key), d * o + (1 - d) * live[key], atol=1e-6)
        assert getattr(average, ema.COUNT).item() == step + 1


def test_batch_norm_statistics_are_averaged_not_copied():
    torch.manual_seed(0)
    model = tiny_model("dcgan", ema_decay=0.999)
    model.train_step(Batches())
    model.train_step(Batches(seed=1))
    average, live = model.modules["generator_ema"], dict(model.generator.named_buffers())
    stats = _bn_statistics(average)
    assert stats, "the tiny dcgan generator has batch norm"
    assert all(not torch.equal(v, live[k]) for k, v in stats.items())
    counts = {k: v for k, v in average.named_buffers() if k.endswith("num_batches_tracked")}
    assert all(torch.equal(v, live[k]) for k, v in counts.items()), "integer buffers are copied"


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


def test_average_and_its_count_are_saved_and_loaded_with_the_model():
    torch.manual_seed(0)
    model = tiny_model("dcgan", ema_decay=0.9)
    model.train_step(Batches())
    state = model.state_dict()
    assert state["modules"]["generator_ema"][ema.COUNT].item() == 1
    fresh = tiny_model("dcgan", ema_decay=0.9)
    fresh.load_state_dict(state)
    for a, b in zip(fresh.modules["generator_ema"].state_dict().values(),
                    model.modules["generator_ema"].state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_resume_with_ema_equals_an_uninterrupted_run(tmp_path):
    """Stopped at step 3 and resumed to 6, the average (and its warm-up count) is bit-identical
    to a run that trained 6 steps in one go."""
    import shutil

    from gen.plugins import discover
    from gen.run.checkpoints import load_checkpoint
    from gen.testing.kit import tiny_spec, train_tiny

    info = discover().registry.get("dcgan")
    tiny = {"model.g_features": 4, "model.d_features": 4, "model.latent_dim": 8,
            "data.image_size": 16, "model.ema_decay": 0.999, "train.sample_every": 100}
    first = train_tiny(info, tiny_spec(info, tiny, train__steps=3), tmp_path / "a")
    shutil.copytree(first.run.root, tmp_path / "resumed")
    resumed = train_tiny(info, tiny_spec(info, tiny, train__steps=6), tmp_path / "resumed",
                         resume=True)
    straight = train_tiny(info, tiny_spec(info, tiny, train__steps=6), tmp_path / "b")
    a = load_checkpoint(resumed.checkpoint)["state"]["modules"]["generator_ema"]
    b = load_checkpoint(straight.checkpoint)["state"]["modules"]["generator_ema"]
    assert b[ema.COUNT].item() == 6
    assert a.keys() == b.keys()
    for key, tensor in b.items():
        assert torch.equal(a[key], tensor), f"generator_ema.{key} differs after resume"


def test_a_checkpoint_from_before_the_warm_up_loads_with_the_plain_decay():
    live = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = ema.averaged_copy(live)
    old = {k: v for k, v in average.state_dict().items() if k != ema.COUNT}
    fresh = ema.averaged_copy(live)
    fresh.load_state_dict(old)  # strict: the missing count is filled in, not an error
    assert float(ema.warmed_decay(0.999, getattr(fresh, ema.COUNT))) == pytest.approx(0.999)
