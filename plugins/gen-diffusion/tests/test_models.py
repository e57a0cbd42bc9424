"""The models as a user meets them: training lowers the loss, sampling options and their
errors, the cost each sampler states, guidance's exact ends, spec errors through the CLI."""

import json
import subprocess
import sys

import pytest
import torch
from diffusion_helpers import data_info, ddpm, flow

import gen
from gen_diffusion.backbones import UNet
from gen_diffusion.guidance import guided

BUILDERS = {"ddpm": ddpm, "flow-matching": flow}


def gen_cmd(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gen", *args], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_loss_goes_down_on_a_fixed_batch(name):
    torch.manual_seed(0)
    model = BUILDERS[name](lr=2e-3)
    images = torch.linspace(-1, 1, 64).view(1, 1, 8, 8).repeat(16, 1, 1, 1)
    losses = [model.train_step(lambda: gen.Batch(images, None))["loss"].item()
              for _ in range(40)]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.6 * first, (first, last)


@pytest.mark.parametrize("name,sampler", [("ddpm", "ancestral"), ("ddpm", "ddim"),
                                          ("flow-matching", "euler"),
                                          ("flow-matching", "heun")])
def test_every_sampler_gives_images_in_range_and_restores_the_mode(name, sampler):
    model = BUILDERS[name](info=data_info(8, channels=3))
    torch.nn.init.normal_(model.unet.out[-1].weight, std=1.0)  # a network that predicts noise
    model.train(True)
    state = torch.get_rng_state()
    images = model.sample(3, generator=torch.Generator().manual_seed(0), sampler=sampler,
                          steps=4)
    assert images.shape == (3, 3, 8, 8) and images.min() >= -1 and images.max() <= 1
    assert model.unet.training
    assert torch.equal(torch.get_rng_state(), state), "sampling drew from the global RNG"
    again = model.sample(3, generator=torch.Generator().manual_seed(0), sampler=sampler, steps=4)
    assert torch.equal(images, again)


def test_sampling_defaults_and_network_calls():
    d = ddpm(timesteps=100)
    assert d.sampling_defaults() == {"sampler": "ddim", "steps": 50, "eta": 0.0}
    assert d.network_calls("sample") == 50
    assert d.network_calls("sample", sampler="ancestral", steps=100) == 100
    assert d.network_calls("log_prob") == 100
    f = flow(conditional=True, guidance=3.0)
    assert f.sampling_defaults() == {"sampler": "heun", "steps": 25, "guidance": 3.0}
    assert f.network_calls("sample") == 100  # 25 Heun steps x 2 evaluations x 2 branches
    assert f.network_calls("sample", sampler="euler", steps=10, guidance=1.0) == 10
    assert f.network_calls("sample", sampler="euler", steps=10, guidance=0.0) == 10
    assert f.network_calls("log_prob") is None
    assert flow(guidance=3.0).network_calls("sample", sampler="euler") == 25  # unconditional


@pytest.mark.parametrize("options,message", [
    ({"sampler": "euler"}, "no sampler 'euler'"),
    ({"sampler": "ancestral", "eta": 0.5}, "takes no eta"),
    ({"steps": 101}, "takes 1 to 100 sampler steps"),
    ({"steps": 0}, "takes 1 to 100 sampler steps"),
    ({"eta": -1.0}, r"eta must be in \[0, 1\]"),
    ({"eta": 1.5}, r"eta must be in \[0, 1\]"),
])
def test_bad_sampling_options_are_usage_errors(options, message):
    with pytest.raises(gen.UsageError, match=message):
        ddpm(timesteps=100).sample(1, **options)


def test_guidance_zero_and_one_are_exactly_the_unconditional_and_conditional_predictions():
    torch.manual_seed(0)
    net = UNet(1, 8, width=8, mults=(1, 2), attention_resolutions=(4,), num_classes=10)
    for p in net.parameters():  # a network whose outputs depend on the label
        torch.nn.init.normal_(p, std=0.2)
    net.eval()
    x, t = torch.randn(4, 1, 8, 8), torch.tensor([3, 50, 500, 999])
    labels, null = torch.tensor([0, 3, 5, 9]), torch.full((4,), 10)
    with torch.no_grad():
        cond, uncond = net(x, t, labels), net(x, t, null)
        assert not torch.allclose(cond, uncond)
        assert torch.equal(guided(net, labels, 0.0)(x, t), uncond)
        assert torch.equal(guided(net, labels, 1.0)(x, t), cond)
        assert torch.allclose(guided(net, labels, 2.5)(x, t), uncond + 2.5 * (cond - uncond),
                              atol=1e-5)


def test_sampling_with_guidance_zero_ignores_the_labels():
    model = ddpm(conditional=True, timesteps=20)
    for p in model.unet.parameters():
        torch.nn.init.normal_(p, std=0.2)

    def draw(labels, guidance):
        return model.sample(4, labels=labels, generator=torch.Generator().manual_seed(0),
                            steps=5, guidance=guidance)

    a, b = torch.tensor([0, 1, 2, 3]), torch.tensor([9, 8, 7, 6])
    assert torch.equal(draw(a, 0.0), draw(b, 0.0))
    assert not torch.equal(draw(a, 1.0), draw(b, 1.0))


def test_label_dropout_trains_the_null_class():
    model = ddpm(conditional=True, label_dropout=0.5)
    torch.manual_seed(0)
    labels = model.training_labels(torch.zeros(4000, dtype=torch.long))
    assert set(labels.unique().tolist()) == {0, 10}
    assert abs((labels == 10).float().mean().item() - 0.5) < 0.03  # 4 standard errors
    assert ddpm().training_labels(torch.zeros(4, dtype=torch.long)) is None


def test_conditional_without_labels_is_a_data_error():
    with pytest.raises(gen.DataError, match="labelled data"):
        ddpm(conditional=True, info=data_info(8))


def test_an_image_size_the_unet_cannot_build_is_a_spec_error(tmp_path):
    """Through the CLI: exit 2, naming data.image_size, no run folder."""
    out = tmp_path / "run"
    result = gen_cmd("train", "ddpm", "--out", str(out), "--set", "data.image_size=30")
    assert result.returncode == 2, result.stderr
    assert "data.image_size" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("model,sets,ok", [
    ("ddpm", ["data.image_size=28"], True),  # MNIST's own size: 3 levels need multiples of 4
    ("ddpm", ["data.image_size=4", "model.mults=[1,2,2]"], True),
    ("flow-matching", ["data.image_size=12", "model.mults=[1,1,1,1]"], False),
    ("ddpm", ["model.timesteps=10"], False),  # sample_steps 50 > T
])
def test_spec_checks_sizes_and_steps(model, sets, ok):
    from gen import specs
    from gen.plugins import discover

    cls = discover().registry.get(model).spec_class()
    if ok:
        specs.validate(cls, {}, sets)
    else:
        with pytest.raises(gen.SpecError):
            specs.validate(cls, {}, sets)


def test_list_models_shows_both_as_diffusion():
    result = gen_cmd("list-models", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["ddpm"]["kind"] == rows["flow-matching"]["kind"] == "diffusion"
    assert rows["ddpm"]["samplers"] == {"ancestral": ["steps"], "ddim": ["steps", "eta"]}
    assert rows["flow-matching"]["samplers"] == {"euler": ["steps"], "heun": ["steps"]}
    assert "nll" in rows["ddpm"]["capabilities"]
    assert "nll" not in rows["flow-matching"]["capabilities"]


def test_train_then_sample_with_a_sampler_chosen_at_sample_time(tmp_path):
    """The worked example of docs/diffusion.md, tiny: train ddpm, then `gen sample` with a
    sampler chosen at sample time (one CLI process: each costs seconds of torch import)."""
    from gen.handle import Run
    from gen.plugins import discover
    from gen.testing.kit import tiny_spec, train_tiny

    info = discover().registry.get("ddpm")
    tiny = {"data.limit": 32, "data.image_size": 8, "model.width": 8, "model.mults": [1, 2],
            "model.timesteps": 20, "model.sample_steps": 2, "train.num_samples": 4}
    run = train_tiny(info, tiny_spec(info, tiny), tmp_path / "run").run.root
    out = tmp_path / "ddim.npz"
    sampled = gen_cmd("sample", str(run), "-n", "4", "--device", "cpu", "--out", str(out),
                      "--sampler", "ddim", "--steps", "3", "--eta", "0")
    assert sampled.returncode == 0, sampled.stderr
    assert out.is_file() and "ddim" in sampled.stdout + sampled.stderr
    model = Run(run, device="cpu", plugins=discover()).model
    with pytest.raises(gen.UsageError, match="heun"):
        model.sample(2, sampler="heun")
    too_many = gen_cmd("sample", str(run), "--device", "cpu", "--steps", "21", "--out",
                       str(tmp_path / "folder") + "/")
    assert too_many.returncode == 2 and "steps" in too_many.stderr, too_many.stderr
    assert "1 to 20" in too_many.stderr and not (tmp_path / "folder").exists(), (
        "more steps than T is refused before the output folder is made")
