"""Paper defaults, the train_step contract of every model, and the WGAN rules."""

import pytest
import torch
from gan_helpers import MODELS, Batches, tiny_model
from torch import nn

from gen_gan import specs


def test_paper_defaults():
    ls = specs.LSGANSpec()
    assert (ls.a, ls.b, ls.c) == (0.0, 1.0, 1.0)
    assert (ls.optimizer.name, ls.optimizer.lr, ls.optimizer.betas) == ("adam", 2e-4, (0.5, 0.999))
    w = specs.WGANSpec()
    assert (w.n_critic, w.clip) == (5, 0.01)
    assert (w.optimizer.name, w.optimizer.lr, w.optimizer.momentum) == ("rmsprop", 5e-5, 0.0)
    gp = specs.WGANGPSpec()
    assert (gp.n_critic, gp.gp_weight, gp.discriminator_norm) == (5, 10.0, "layer")
    assert (gp.optimizer.name, gp.optimizer.lr, gp.optimizer.betas) == ("adam", 1e-4, (0.0, 0.9))
    hinge = specs.HingeSpec()
    assert (hinge.n_critic, hinge.backbone, hinge.conditioning) == (1, "dcgan", "none")
    for cls in (specs.GANSpec, specs.DCGANSpec, specs.HingeSpec, specs.LSGANSpec,
                specs.WGANSpec, specs.WGANGPSpec, specs.CGANSpec, specs.ACGANSpec):
        spec = cls()
        assert "ema_decay" not in type(spec).model_fields and spec.latent_dim == 100
        # The stabilisers are off and both networks share model.optimizer unless asked.
        assert (spec.r1_gamma, spec.r2_gamma, spec.reg_every, spec.lecam_weight) == (0, 0, 1, 0)
        assert spec.ada_target is None and spec.d_optimizer is spec.g_optimizer is None


@pytest.mark.parametrize("name", MODELS)
def test_train_step_returns_detached_scalars_and_updates_both_players(name):
    torch.manual_seed(0)
    size = 8 if name == "gan" else 16
    model = tiny_model(name, size=size)
    batches = Batches(size=size)
    before = {k: [p.clone() for p in m.parameters()] for k, m in model.modules.items()}
    logs = model.train_step(batches)
    assert batches.calls == model.n_critic == (5 if name.startswith("wgan") else 1)
    assert {"d_loss", "g_loss", "d_acc_real", "d_acc_fake"} <= set(logs)  # docs/health.md
    assert all(0 <= logs[k] <= 1 for k in ("d_acc_real", "d_acc_fake"))
    for key, value in logs.items():
        assert isinstance(value, torch.Tensor) and value.dim() == 0, key
        assert not value.requires_grad and torch.isfinite(value), key
    for key, module in model.modules.items():
        after = module.parameters()
        assert any(not torch.equal(a, b) for a, b in zip(before[key], after, strict=True)), key
    assert all(p.requires_grad for p in model.discriminator.parameters())


@pytest.mark.parametrize("name", ["wgan", "wgan-gp"])
def test_wgan_step_is_n_critic_batches_and_logs_the_distance(name):
    model = tiny_model(name)
    batches = Batches()
    logs = model.train_step(batches)
    assert batches.calls == 5
    assert "wasserstein" in logs
    if name == "wgan-gp":
        # d_loss = -W + lambda * penalty
        assert torch.isclose(logs["d_loss"], -logs["wasserstein"] + 10 * logs["gradient_penalty"])
    else:
        assert torch.isclose(logs["d_loss"], -logs["wasserstein"])


def test_wgan_clips_every_critic_weight_after_each_critic_step():
    model = tiny_model("wgan", n_critic=1, clip=0.01)
    model.optimizers["discriminator"] = torch.optim.SGD(model.discriminator.parameters(), lr=10.0)
    seen = []
    clip_after = model.after_critic_step

    def check():
        clip_after()
        seen.append(max(p.abs().max().item() for p in model.discriminator.parameters()))

    model.after_critic_step = check
    model.train_step(Batches())
    assert seen and seen[0] <= 0.01
    params = list(model.discriminator.parameters())
    assert all(p.abs().max() <= 0.01 for p in params)
    assert any(p.abs().max() == 0.01 for p in params), "a huge step must hit the clip range"


@pytest.mark.parametrize("norm,layer", [("layer", nn.GroupNorm), ("none", None)])
def test_wgan_gp_critic_has_no_batch_norm(norm, layer):
    critic = tiny_model("wgan-gp", d_norm=norm).discriminator
    kinds = {type(m) for m in critic.modules()}
    assert not kinds & {nn.BatchNorm2d, nn.BatchNorm1d}
    assert layer is None or layer in kinds
    assert not any(isinstance(m, nn.Sigmoid) for m in critic.modules())


def test_lsgan_uses_its_configured_targets():
    torch.manual_seed(0)
    model = tiny_model("lsgan", a=-1.0, b=1.0, c=0.0)
    real, fake = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    loss, logs = model.critic_loss(real, fake, None)
    r, f = logs["d_real"], logs["d_fake"]  # the means; recompute from the raw scores
    scores_r, scores_f = model.discriminator(real), model.discriminator(fake)
    expected = 0.5 * ((scores_r - 1) ** 2).mean() + 0.5 * ((scores_f + 1) ** 2).mean()
    assert torch.isclose(loss, expected) and torch.isclose(r, scores_r.mean())
    assert torch.isclose(f, scores_f.mean())
    g_loss, _ = model.generator_loss(fake, None)
    assert torch.isclose(g_loss, 0.5 * (scores_f**2).mean())


@pytest.mark.parametrize("name,forwards", [("dcgan", 1), ("wgan", 6)])
def test_generator_update_latents(name, forwards, monkeypatch):
    """k = 1: G trains on the fakes D just saw (one G forward a step, as DCGAN's reference code).
    n_critic = 5: five critic batches of fakes without a graph, then fresh latents for G
    (WGAN Algorithm 1, lines 9-10)."""
    model = tiny_model(name)
    calls = []
    forward = type(model.generator).forward

    def spy(module, z, y=None):
        calls.append(torch.is_grad_enabled())
        return forward(module, z, y)

    monkeypatch.setattr(type(model.generator), "forward", spy)
    model.train_step(Batches())
    assert len(calls) == forwards
    assert calls[-1] is True and not any(calls[:-1])
