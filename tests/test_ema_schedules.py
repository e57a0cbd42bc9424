"""The core's weight average (``train.ema``, gen.ema) and learning-rate schedules
(``train.lr_schedule``, gen.training.schedules), against hand computation."""

import json
import math

import pytest
import torch
from torch import nn

from gen import specs
from gen.ema import WeightAverage, warmed_decay
from gen.training.schedules import Schedules, factor


@pytest.mark.parametrize(("updates", "expected"), [
    (0, 1 / 10), (1, 2 / 11), (10, 11 / 20), (1000, 1001 / 1010), (10**6, 0.999),
])
def test_decay_warms_up_as_tensorflow_num_updates(updates, expected):
    assert warmed_decay(0.999, torch.tensor(updates)).item() == pytest.approx(expected, rel=1e-6)
    assert warmed_decay(0.999, torch.tensor(updates), warmup=False).item() == pytest.approx(0.999)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _perturb(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g))
    net.train()
    net(torch.randn(5, 3, generator=g))  # moves the batch-norm statistics


def test_average_follows_the_warmed_decay_for_parameters_and_float_buffers():
    live = _net()
    average = WeightAverage({"net": live}, decay=0.9)
    for step, d in enumerate([0.1, 2 / 11, 3 / 12], start=1):
        old = {k: v.clone() for k, v in average.average["net"].state_dict().items()}
        _perturb(live, step)
        average.update(step)
        now = live.state_dict()
        for key, value in average.average["net"].state_dict().items():
            if value.is_floating_point():
                assert torch.allclose(value, d * old[key] + (1 - d) * now[key], atol=1e-6), key
            else:  # num_batches_tracked is copied
                assert torch.equal(value, now[key]), key
        assert int(average.updates) == step
    assert not any(p.requires_grad for p in average.average["net"].parameters())


def test_until_start_the_average_is_the_live_weights():
    live = _net()
    average = WeightAverage({"net": live}, decay=0.5, warmup=False, start=2)
    for step in (1, 2):
        _perturb(live, step)
        average.update(step)
        for a, b in zip(average.average["net"].state_dict().values(),
                        live.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    kept = {k: v.clone() for k, v in average.average["net"].state_dict().items()}
    _perturb(live, 3)
    average.update(3)  # the first averaging update: decay 0.5, no warm-up
    weight = average.average["net"][0].weight
    assert torch.allclose(weight, 0.5 * kept["0.weight"] + 0.5 * live[0].weight)
    assert int(average.updates) == 1


def test_applied_swaps_the_average_in_and_the_live_weights_back_bit_for_bit():
    live = _net()
    average = WeightAverage({"net": live}, decay=0.5)
    _perturb(live, 1)
    average.update(1)
    before = {k: v.clone() for k, v in live.state_dict().items()}
    with average.applied():
        for a, b in zip(live.state_dict().values(),
                        average.average["net"].state_dict().values(), strict=True):
            assert torch.equal(a, b)
    for key, value in live.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_state_round_trips_and_refuses_other_modules():
    live = _net()
    average = WeightAverage({"net": live}, decay=0.5)
    _perturb(live, 1)
    average.update(1)
    fresh = WeightAverage({"net": _net()})
    fresh.load_state_dict(average.state_dict())
    assert int(fresh.updates) == 1
    for a, b in zip(fresh.average["net"].state_dict().values(),
                    average.average["net"].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(KeyError, match="averages"):
        WeightAverage({"other": _net()}).load_state_dict(average.state_dict())


S = specs.LRScheduleSpec


@pytest.mark.parametrize(("schedule", "expected"), [
    (S(), [1, 1, 1, 1]),
    (S(warmup_steps=2), [0.5, 1, 1, 1]),
    (S(name="linear", final=0.2), [1 - 0.8 / 4, 1 - 0.8 * 2 / 4, 1 - 0.8 * 3 / 4, 0.2]),
    (S(name="linear", warmup_steps=2), [0.5, 1, 0.5, 0]),
    (S(name="cosine", warmup_steps=1), [1, (1 + math.cos(math.pi / 3)) / 2,
                                        (1 + math.cos(2 * math.pi / 3)) / 2, 0]),
    (S(name="cosine", total_steps=2, final=0.1), [0.1 + 0.9 * 0.5, 0.1, 0.1, 0.1]),
])
def test_factor_of_each_step_against_hand_computation(schedule, expected):
    """The k-th of 4 steps runs at factor(k - 1)."""
    at = factor(schedule, train_steps=4)
    assert [at(s) for s in range(4)] == pytest.approx(expected)


def test_schedules_set_the_rate_of_each_step_and_override_per_optimizer():
    nets = {"g": nn.Linear(2, 2), "d": nn.Linear(2, 2)}
    optimizers = {k: torch.optim.SGD(m.parameters(), lr=0.1) for k, m in nets.items()}
    train = specs.TrainSpec(steps=4, lr_schedule=S(name="linear", warmup_steps=2),
                            lr_schedules={"d": S()})
    schedules = Schedules(optimizers, train)
    assert set(schedules.schedulers) == {"g"}, "a constant schedule without warm-up is none"
    seen = []
    for _ in range(4):
        seen.append(schedules.rates())
        optimizers["g"].step()
        schedules.step()
    assert [r["lr/g"] for r in seen] == pytest.approx([0.05, 0.1, 0.05, 0.0])
    assert [r["lr/d"] for r in seen] == [0.1] * 4


def test_a_schedule_for_an_optimizer_the_model_lacks_is_a_spec_error():
    optimizers = {"g": torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)}
    with pytest.raises(specs.SpecError) as err:
        Schedules(optimizers, specs.TrainSpec(lr_schedules={"critic": S()}))
    assert err.value.problems[0][0] == "train.lr_schedules.critic"
    assert "g" in err.value.problems[0][1]


@pytest.mark.parametrize(("override", "field"), [
    ('train.lr_schedule={"warmup_steps": 50}', "train.lr_schedule.warmup_steps"),
    ('train.lr_schedules={"generator": {"warmup_steps": 50}}',
     "train.lr_schedules.generator.warmup_steps"),
    ('train.lr_schedule={"name": "cosine", "warmup_steps": 5, "total_steps": 5}',
     "train.lr_schedule.total_steps"),
    ('train.ema={"decay": 1.5}', "train.ema.decay"),
    ('train.lr_schedule={"name": "step"}', "train.lr_schedule.name"),
])
def test_bad_schedules_and_averages_exit_2_naming_the_fields(gen_cli, tmp_path, override, field):
    out = tmp_path / "run"
    result = gen_cli("train", "toy", "--set", "train.steps=10", "--set", override,
                     "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert field in result.stderr
    if "warmup_steps" in field:
        assert "train.steps" in result.stderr, "the warm-up error names both fields"
    assert not out.exists()


def test_an_unknown_optimizer_in_lr_schedules_exits_2_writing_nothing(gen_cli, tmp_path):
    out = tmp_path / "run"
    result = gen_cli("train", "toy", "--set", "train.steps=2", "--set",
                     'train.lr_schedules={"critic": {"name": "cosine"}}', "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert "train.lr_schedules.critic" in result.stderr and "discriminator" in result.stderr
    assert not out.exists()


def test_a_run_logs_rates_and_samples_with_the_average(toy_plugins, tmp_path):
    """lr/<optimizer> in every log line; the grid is drawn from the average, the checkpoint
    keeps the live weights and the average apart, and a Run samples with the average."""
    import gen
    from gen.images import to_uint8

    run = gen.train("toy", overrides={
        "train.steps": 4, "train.log_every": 1, "train.sample_every": 4,
        "train.checkpoint_every": 4, "train.ema": {"decay": 0.5},
        "train.lr_schedule": {"name": "linear", "warmup_steps": 2}}, out=tmp_path / "r",
        progress=False)
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    train_lines = [x for x in lines if "d_loss" in x]
    assert [x["lr/generator"] for x in train_lines] == pytest.approx([5e-3, 1e-2, 5e-3, 0.0])
    model = run.model
    assert model.weights == "ema"
    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "latest.pt", weights_only=True)
    live, averaged = ckpt["state"]["modules"]["generator"], ckpt["state"]["average"]
    assert set(averaged["modules"]) == {"generator"} and int(averaged["updates"]) == 4
    for key, value in model.generator.state_dict().items():
        assert torch.equal(value, averaged["modules"]["generator"][key])
    assert any(not torch.equal(v, averaged["modules"]["generator"][k]) for k, v in live.items())
    g = torch.Generator().manual_seed(0)
    assert run.sample(2, seed=0).shape == to_uint8(model.sample(2, generator=g)).shape


def test_extending_a_run_keeps_the_course_of_its_decay(toy_plugins, tmp_path):
    """spec.json pins a decay's length to train.steps at the start; resumed with more steps,
    the rate stays at the end of the decay instead of jumping back to its middle."""
    import gen

    settings = {"train.steps": 4, "train.log_every": 1, "train.checkpoint_every": 4,
                "train.sample_every": 4, "train.lr_schedule": {"name": "linear"}}
    gen.train("toy", overrides=settings, out=tmp_path / "r", progress=False)
    spec = json.loads((tmp_path / "r" / "spec.json").read_text())
    assert spec["train"]["lr_schedule"]["total_steps"] == 4
    gen.train("toy", overrides={"train.steps": 8}, out=tmp_path / "r", resume=True,
              progress=False)
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    rates = [x["lr/generator"] for x in lines if "d_loss" in x]
    assert rates == pytest.approx([7.5e-3, 5e-3, 2.5e-3, 0, 0, 0, 0, 0])
