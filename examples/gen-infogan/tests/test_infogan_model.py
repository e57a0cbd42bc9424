"""InfoGAN's own behaviour: the Q head shares the discriminator's body, L_I is learnt, the codes
can be fixed and varied, and the spec rejects what the networks cannot build."""

import math

import pytest
import torch
from pydantic import ValidationError

import gen
from gen_infogan.model import Codes, InfoGAN
from gen_infogan.specs import InfoGANSpec

TINY = {"noise_dim": 8, "g_features": 8, "d_features": 8, "q_hidden": 32}


def make(size=8, **fields):
    spec = InfoGANSpec(**{**TINY, **fields})
    data = gen.DataInfo(name="test", channels=1, image_size=size, num_classes=None,
                        num_images=64)
    return InfoGAN(spec, data)


def batches(size=8, n=64, batch=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, size, size, generator=g).round() * 2 - 1
    return lambda: gen.Batch(images[torch.randint(n, (batch,))], None)


def params(module):
    return {id(p) for p in module.parameters()}


def test_q_head_shares_the_discriminator_body():
    torch.manual_seed(0)
    model = make()
    d, q = model.discriminator, model.q_head
    assert set(model.modules) == {"generator", "discriminator", "q_head"}
    assert not params(d) & params(q)  # the Q head owns only its own layers...
    assert not any(isinstance(m, torch.nn.Conv2d) for m in q.modules())

    codes = model.draw_codes(16)
    _, features = d(model.generator(model.assemble(codes)), features=True)
    model.info_terms(model.q(features), codes)["info_loss"].backward()
    # ...and L_I reaches every parameter of the body it reads, not the real/fake head.
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.body.parameters())
    assert all(p.grad is None for p in d.head.parameters())
    assert all(p.grad is not None for p in q.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())

    # Who steps what: G and Q with the generator's optimizer, the body with D's only.
    by_opt = {name: {id(p) for grp in opt.param_groups for p in grp["params"]}
              for name, opt in model.optimizers.items()}
    assert by_opt["generator"] == params(model.generator) | params(q)
    assert by_opt["discriminator"] == params(d)


@pytest.mark.parametrize("info_trains_body", [False, True])
def test_info_trains_body_decides_whether_the_d_loss_holds_l_i(info_trains_body):
    torch.manual_seed(0)
    model = make(info_trains_body=info_trains_body)
    losses = {}
    real_optimize = model.optimize

    def spy(name, loss):
        losses[name] = loss
        grads = torch.autograd.grad(loss, list(model.q_head.parameters()), retain_graph=True,
                                    allow_unused=True)
        losses[name + "_reaches_q"] = any(g is not None for g in grads)
        real_optimize(name, loss)

    model.optimize = spy
    model.train_step(batches())
    assert losses["generator_reaches_q"]
    assert losses["discriminator_reaches_q"] is info_trains_body


def test_mutual_information_is_learnt_and_q_recovers_the_code():
    """40 steps on 8x8 noise images: L_I falls, and Q (in eval mode) reads the categorical code
    of images drawn afterwards far better than chance (1/10)."""
    torch.manual_seed(0)
    model = make()
    next_batch = batches()
    logs = [model.train_step(next_batch) for _ in range(40)]
    first = sum(float(m["info_cat_nll"]) for m in logs[:5]) / 5
    last = sum(float(m["info_cat_nll"]) for m in logs[-5:]) / 5
    assert first > 2.0  # about log 10 = 2.30 at the start
    assert last < first - 0.5
    assert float(logs[-1]["mi_categorical"]) == pytest.approx(math.log(10) - last, abs=0.2)
    assert sum(float(m["q_acc"]) for m in logs[-5:]) / 5 > 0.5

    images = model.vary_code("categorical", rows=20, generator=torch.Generator().manual_seed(1))
    categories, means = model.infer_codes(images)
    assert categories.shape == (200, 1) and means.shape == (200, 2)
    accuracy = (categories[:, 0] == torch.arange(10).repeat(20)).float().mean()
    assert accuracy > 0.3, accuracy


def test_sample_draws_only_from_the_given_generator():
    model = make()
    state = torch.get_rng_state()
    a = model.sample(6, generator=torch.Generator().manual_seed(3))
    b = model.sample(6, generator=torch.Generator().manual_seed(3))
    c = model.sample(6, generator=torch.Generator().manual_seed(4))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (6, 1, 8, 8) and a.abs().max() <= 1
    assert model.generator.training  # sampling restored the training mode


def test_sample_codes_fixes_codes_and_keeps_the_rest_of_the_draw():
    model = make()
    seed = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    z, cat, cont = model.draw_codes(4, seed())
    fixed = model.sample_codes(4, categorical=7, continuous=[0.5, -0.5], generator=seed())
    expect = model.generate_codes(Codes(z, torch.full_like(cat, 7),
                                       torch.tensor([[0.5, -0.5]]).expand(4, 2)))
    assert torch.equal(fixed, expect)
    # Everything fixed: the generator no longer matters.
    everything = {"categorical": cat[:, 0], "continuous": cont, "noise": z}
    assert torch.equal(model.sample_codes(4, **everything, generator=seed()),
                       model.sample_codes(4, **everything))
    with pytest.raises(ValueError, match=r"0\.\.9"):
        model.sample_codes(4, categorical=10)
    with pytest.raises(ValueError, match="continuous"):
        model.sample_codes(4, continuous=torch.zeros(4, 3))


def test_vary_code_grid_rows_share_everything_but_the_code():
    model = make(categorical_codes=[10, 3], continuous_codes=1)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    grid = model.vary_code("categorical", index=1, rows=4, generator=g())
    assert grid.shape == (12, 1, 8, 8)
    # Row r, column j is the row's draw with code 1 set to j.
    z, cat, cont = model.draw_codes(4, g())
    cat[:, 1] = 2
    assert torch.allclose(grid[2::3], model.sample_codes(4, cat, cont, z), atol=1e-6)
    assert model.vary_code("continuous", rows=2).shape == (18, 1, 8, 8)
    assert model.vary_code("continuous", values=[-1, 1], rows=2).shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match="no continuous code 1"):
        model.vary_code("continuous", index=1)
    with pytest.raises(ValueError, match=r"code 1 takes values 0\.\.2"):
        model.vary_code("categorical", index=1, values=[0, 3])
    with pytest.raises(ValueError, match="kind"):
        model.vary_code("noise")


@pytest.mark.parametrize("fields", [{"learn_std": True},
                                    {"categorical_codes": [], "continuous_codes": 3},
                                    {"categorical_codes": [4, 2], "continuous_codes": 0}])
def test_variants_train(fields):
    torch.manual_seed(0)
    model = make(size=16, **fields)
    logs = model.train_step(batches(size=16))
    assert all(torch.isfinite(v) for v in logs.values())
    assert ("q_acc" in logs) is bool(model.categories)


def test_spec_rejects_what_cannot_be_built():
    assert InfoGANSpec().latent_dim == 62 + 10 + 2
    for size, ok in [(4, False), (8, True), (32, True), (48, False), (64, True), (128, False)]:
        problems = InfoGANSpec().check_data(gen.DataSpec(image_size=size))
        assert (problems == []) is ok, (size, problems)
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        InfoGANSpec(categorical_codes=[1])
    with pytest.raises(ValidationError, match="at least one latent code"):
        InfoGANSpec(categorical_codes=[], continuous_codes=0)


def test_latent_contract_interpolation_yes_truncation_no():
    """The latent holds one-hot and uniform codes beside z: gen may interpolate it, never
    truncate it (`truncatable_latent = False`); generate(latent(n)) is sample(n)."""
    from gen.capabilities import capabilities
    from gen.sampling import interpolation_batches
    from gen.sampling_options import SamplingOptions

    model = make()
    caps = capabilities(InfoGAN)
    assert "latent-interpolation" in caps and "truncation" not in caps
    seed = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    assert torch.equal(model.generate(model.latent(4, seed())), model.sample(4, generator=seed()))
    with pytest.raises(gen.UsageError, match="model 'infogan' cannot use it"):
        SamplingOptions(truncation=1.0).resolve(model)
    strips = torch.cat(list(interpolation_batches(model, rows=2, steps=3)))
    assert strips.shape == (6, 1, 8, 8)
