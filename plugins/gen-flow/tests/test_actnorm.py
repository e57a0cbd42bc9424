"""Glow's actnorm layers initialise from the first training batch, once, and the flag that
says so travels in checkpoints: a resumed run never initialises again."""

import io

import pytest
import torch
from flow_models import build, fixed_batches

from gen.run.checkpoints import load_checkpoint
from gen.testing.kit import tiny_spec, train_tiny
from gen_flow.layers import ActNorm


def data(n=256, size=8):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 1, size, size), generator=g).float() / 127.5 - 1


def counting_inits(monkeypatch):
    calls = []
    original = ActNorm._initialise

    def spy(self, x):
        calls.append(self)
        return original(self, x)

    monkeypatch.setattr(ActNorm, "_initialise", spy)
    return calls


def test_first_step_initialises_every_actnorm_once(monkeypatch):
    calls = counting_inits(monkeypatch)
    model = build("glow", size=8, double=False)
    actnorms = model.flow.actnorms()
    assert len(actnorms) == 2 * 2 and not model.flow.initialised
    batches = fixed_batches(data(), 32)
    model.train_step(batches)
    assert len(calls) == len(actnorms) and set(map(id, calls)) == set(map(id, actnorms))
    assert model.flow.initialised
    before = {k: v.clone() for k, v in model.flow.state_dict().items()}
    model.train_step(batches)
    assert len(calls) == len(actnorms)  # no second initialisation
    # ... and the parameters moved by the step only (a small Adam step, not a reset)
    first = actnorms[0]
    assert not torch.equal(first.logs, before["levels.0.1.logs"])
    assert (first.logs - before["levels.0.1.logs"]).abs().max() < 1e-2


def test_initialisation_normalises_the_batch():
    model = build("glow", size=8, double=False)
    x = data(64)
    torch.manual_seed(0)
    u = torch.rand(x.shape)
    y, _ = model.preprocess((model.values(x) + u) / model.bins)
    model.flow.data_init(y)
    first = model.flow.levels[0]
    h = first[0](y)[0]  # the squeeze
    out, _ = first[1](h)  # the first actnorm
    assert torch.allclose(out.mean((0, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(out.std((0, 2, 3), unbiased=False), torch.ones(4), atol=1e-4)


def test_likelihood_and_sampling_never_initialise():
    model = build("glow", size=8, double=False)
    x = data(8)
    model.train(True)
    model.log_prob(x).sum().backward()
    model.iw_log_prob(x, samples=2)
    model.sample(2, generator=torch.Generator().manual_seed(0))
    assert not model.flow.initialised
    assert all(torch.equal(m.logs, torch.zeros_like(m.logs)) for m in model.flow.actnorms())


def test_initialised_flag_survives_save_and_load(monkeypatch):
    """A model loaded from a state dict continues exactly as the one that saved it."""
    calls = counting_inits(monkeypatch)
    first = data(32)
    second = data(64)[32:]
    a = build("glow", size=8, double=False)
    a.train_step(lambda: (first, None))
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b = build("glow", size=8, double=False, seed=123)  # other initial weights
    b.load_state_dict(torch.load(buffer, weights_only=False))
    assert b.flow.initialised
    inits = len(calls)
    torch.manual_seed(7)
    a.train_step(lambda: (second, None))
    torch.manual_seed(7)
    b.train_step(lambda: (second, None))
    assert len(calls) == inits
    for (key, wa), wb in zip(a.flow.state_dict().items(), b.flow.state_dict().values(),
                             strict=True):
        assert torch.equal(wa, wb), key


@pytest.mark.parametrize("model", ["glow"])
def test_checkpoint_records_initialisation(model, tmp_path):
    from gen.plugins import discover

    info = discover().registry.get(model)
    tiny = {"data.image_size": 8, "model.hidden": 4, "model.levels": 2, "model.steps": 1}
    result = train_tiny(info, tiny_spec(info, tiny, train__steps=1), tmp_path / "run")
    state = load_checkpoint(result.checkpoint)["state"]["modules"]["flow"]
    flags = [v for k, v in state.items() if k.endswith("initialised")]
    assert len(flags) == 2 and all(bool(f) for f in flags)


def test_resume_with_split_priors_equals_uninterrupted_run(tmp_path):
    """As the kit's resume test, for a two-level Glow (learned split prior) mid warm-up."""
    from gen.plugins import discover

    info = discover().registry.get("glow")
    tiny = {"data.image_size": 8, "model.hidden": 4, "model.levels": 2, "model.steps": 1,
            "model.warmup_steps": 4}
    first = train_tiny(info, tiny_spec(info, tiny, train__steps=2), tmp_path / "a")
    resumed = train_tiny(info, tiny_spec(info, tiny, train__steps=3), first.run.root,
                         resume=True)
    straight = train_tiny(info, tiny_spec(info, tiny, train__steps=3), tmp_path / "b")
    a = load_checkpoint(resumed.checkpoint)["state"]["modules"]["flow"]
    b = load_checkpoint(straight.checkpoint)["state"]["modules"]["flow"]
    assert a.keys() == b.keys()
    for key, tensor in b.items():
        assert torch.equal(a[key], tensor), key


def test_warm_up_raises_the_learning_rate_and_resumes():
    model = build("glow", size=8, double=False, warmup_steps=3)
    lr = model.spec.optimizer.lr
    batches = fixed_batches(data(), 16)
    seen = []
    for _ in range(2):
        model.train_step(batches)
        seen.append(model.optimizers["flow"].param_groups[0]["lr"])
    other = build("glow", size=8, double=False, warmup_steps=3)
    other.load_state_dict(model.state_dict())
    for _ in range(3):
        other.train_step(batches)
        seen.append(other.optimizers["flow"].param_groups[0]["lr"])
    assert seen == pytest.approx([lr / 3, 2 * lr / 3, lr, lr, lr])
