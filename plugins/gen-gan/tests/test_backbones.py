"""Objective and backbone as independent choices: the networks each backbone builds, the same
conditioning on each, spectral normalisation, the spec errors for combinations that cannot
work (exit 2, naming both fields) and resume refusing another backbone."""

import itertools
import subprocess
import sys

import pytest
import torch
from gan_helpers import MODELS, data_info
from torch import nn

from gen import specs
from gen.plugins import discover
from gen_gan.backbones import build_discriminator, build_generator
from gen_gan.backbones.resnet import ResNetDiscriminator, ResNetGenerator

BACKBONES = ["mlp", "dcgan", "resnet"]
SMALL = {"g_features": 8, "d_features": 8, "g_hidden": [16], "d_hidden": [16], "latent_dim": 8}


def spec_of(model: str, **fields):
    return discover().registry.get(model).spec_class()(**{**SMALL, **fields})


def model_of(model: str, size: int = 16, **fields):
    return discover().registry.get(model).model_class()(spec_of(model, **fields), data_info(size))


def gen_cmd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gen", *args], capture_output=True, text=True)


@pytest.mark.parametrize("size,g_blocks,d_blocks", [(16, 2, 3), (32, 3, 4), (64, 4, 5)])
def test_resnet_has_the_papers_blocks_and_shapes(size, g_blocks, d_blocks):
    """At 32x32 the generator has 3 up-sampling blocks and the discriminator 4 blocks (Miyato et
    al. 2018, Table 4); other sizes add or drop a block per doubling."""
    g = ResNetGenerator(8, 3, size, 16)
    d = ResNetDiscriminator(3, size, 16)
    assert len(g.blocks) == g_blocks
    assert len([b for b in d.blocks if not isinstance(b, nn.ReLU)]) == d_blocks
    images = g(torch.randn(5, 8))
    assert images.shape == (5, 3, size, size) and images.abs().max() <= 1
    assert d(images).shape == (5,)
    assert not any(isinstance(m, nn.BatchNorm2d | nn.GroupNorm) for m in d.modules())


def test_resnet_initialisation_follows_miyato_et_al():
    """Glorot-uniform: gain sqrt(2) on the residual 3x3 convolutions, 1 on the 1x1 shortcuts
    and the generator's output convolution (whose weights' bound is then sqrt(6 / fan sum))."""
    torch.manual_seed(0)
    g = ResNetGenerator(8, 1, 32, 64)

    def bound(conv, gain):
        fan_in, fan_out = (conv.weight[0].numel(), conv.weight.shape[0] * conv.weight[0, 0].numel())
        return gain * (6 / (fan_in + fan_out)) ** 0.5

    output = g.out[2]
    assert output.weight.abs().max() <= bound(output, 1.0)
    assert output.weight.abs().max() > 0.9 * bound(output, 1.0)
    residual = g.blocks[0].residual[3]
    assert residual.weight.abs().max() > 1.3 * bound(residual, 1.0)  # sqrt(2) = 1.41
    shortcut = g.blocks[0].shortcut[1]
    assert shortcut.weight.abs().max() <= bound(shortcut, 1.0)


@pytest.mark.parametrize("model,backbone", list(itertools.product(
    ["gan", "lsgan", "wgan", "wgan-gp"], BACKBONES)))
def test_the_objective_keeps_its_losses_on_every_backbone(model, backbone):
    """Only the networks change with the backbone: the loss is the objective's, computed on
    whatever the backbone's discriminator returns."""
    m = model_of(model, backbone=backbone)
    real, fake = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    torch.manual_seed(0)
    loss, _ = m.critic_loss(real, fake, None)
    torch.manual_seed(0)
    r, f = m.discriminator(real), m.discriminator(fake)
    expected = {"gan": nn.functional.softplus(-r).mean() + nn.functional.softplus(f).mean(),
                "lsgan": 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
                "wgan": f.mean() - r.mean()}
    if model == "wgan-gp":
        assert loss > f.mean() - r.mean()  # plus a (positive) penalty
    else:
        assert torch.allclose(loss, expected[model], atol=1e-5)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_conditional_models_condition_every_backbone(backbone):
    torch.manual_seed(0)
    cgan = model_of("cgan", backbone=backbone)
    for module in cgan.modules.values():
        module.eval()  # batch norm: each image on its own
    z = torch.randn(4, 8)
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(cgan.generator(z, zeros), cgan.generator(z, ones))
    x = torch.rand(4, 1, 16, 16)
    assert not torch.allclose(cgan.discriminator(x, zeros), cgan.discriminator(x, ones))
    acgan = model_of("acgan", backbone=backbone)
    source, classes = acgan.discriminator(x)
    assert source.shape == (4,) and classes.shape == (4, 10)
    with pytest.raises(ValueError, match="conditional"):
        cgan.generator(z)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_spectral_norm_holds_every_discriminator_weight_to_norm_one(backbone):
    torch.manual_seed(0)
    spec = spec_of("dcgan", backbone=backbone, spectral_norm=True)
    d = build_discriminator(spec, data_info(16))
    layers = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    x = torch.rand(8, 1, 16, 16)
    for _ in range(30):  # one power iteration per training-mode forward pass
        d(x)
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1) < 0.05, (layer, sigma)
    state = d.state_dict()
    assert any(k.endswith("parametrizations.weight.0._u") for k in state)  # in checkpoints
    g = build_generator(spec, data_info(16))  # the generator is never normalised
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in g.modules())


def test_spectral_norm_trains_the_unnormalised_weights():
    model = model_of("dcgan", spectral_norm=True)
    optimised = {id(p) for group in model.optimizers["discriminator"].param_groups
                 for p in group["params"]}
    originals = [m.parametrizations.weight.original for m in model.discriminator.modules()
                 if nn.utils.parametrize.is_parametrized(m, "weight")]
    assert originals and all(id(p) in optimised for p in originals)


@pytest.mark.parametrize("model,backbone,sn,norm", [
    ("dcgan", "dcgan", False, "batch"), ("dcgan", "dcgan", True, "none"),
    ("wgan-gp", "dcgan", False, "layer"), ("wgan-gp", "mlp", False, "none"),
    ("wgan", "dcgan", False, "batch"), ("gan", "mlp", False, "none"),
    ("acgan", "resnet", False, "none"),
])
def test_discriminator_normalisation_defaults_per_objective_and_backbone(model, backbone, sn,
                                                                          norm):
    spec = spec_of(model, backbone=backbone, spectral_norm=sn)
    assert spec.d_norm is None and spec.discriminator_norm == norm
    kinds = {type(m) for m in build_discriminator(spec, data_info(16)).modules()}
    expected = {"batch": {nn.BatchNorm1d, nn.BatchNorm2d}, "layer": {nn.LayerNorm, nn.GroupNorm},
                "none": set()}[norm]
    assert bool(kinds & expected) == bool(expected)
    assert not kinds & ({nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm} - expected)


def test_the_data_default_follows_the_backbone():
    gan = discover().registry.get("gan").spec_class()
    dcgan = discover().registry.get("dcgan").spec_class()
    assert specs.validate(gan, {}).data.image_size == 28
    assert specs.validate(gan, {}, ["model.backbone=dcgan"]).data.image_size == 32
    assert specs.validate(dcgan, {}, ["model.backbone=mlp"]).data.image_size == 28
    assert specs.validate(dcgan, {}, ["model.backbone=resnet"]).data.image_size == 32


def test_a_printed_spec_keeps_the_norm_default_of_whatever_backbone_it_is_edited_to():
    """d_norm stays null (the default) in spec.json: `gen spec wgan-gp` edited to resnet gets
    resnet's critic normalisation, not the dcgan default it would have pinned."""
    cls = discover().registry.get("wgan-gp").spec_class()
    printed = specs.validate(cls, {}).model_dump(mode="json")
    assert printed["model"]["d_norm"] is None
    edited = specs.validate(cls, printed, ["model.backbone=resnet"])
    assert edited.model.discriminator_norm == "none"


def test_a_wgan_gp_spec_from_before_d_norm_still_loads():
    spec = discover().registry.get("wgan-gp").spec_class()
    assert spec.model_validate({"critic_norm": "none"}).discriminator_norm == "none"
    assert spec.model_validate({}).discriminator_norm == "layer"


@pytest.mark.parametrize("model,sets,fields", [
    ("wgan-gp", ["model.d_norm=batch"], ["model.d_norm", "model.name"]),
    ("wgan-gp", ["model.backbone=mlp", "model.d_norm=batch"], ["model.d_norm", "model.name"]),
    ("dcgan", ["model.backbone=resnet", "data.image_size=28"],
     ["data.image_size", "model.backbone"]),
    ("dcgan", ["model.backbone=resnet", "data.image_size=8"],
     ["data.image_size", "model.backbone"]),
    ("cgan", ["data.image_size=24"], ["data.image_size", "model.backbone"]),
    ("wgan", ["model.spectral_norm=true"], ["model.spectral_norm", "model.name"]),
    ("lsgan", ["model.backbone=transformer"], ["model.backbone"]),
    # the stabilisers of gen_gan.regularizers and gen_gan.ada, refused where they make no sense
    ("wgan", ["model.r1_gamma=1"], ["model.r1_gamma", "model.name"]),
    ("dcgan", ["model.ada_target=0.6", "model.diffaugment=color"],
     ["model.ada_target", "model.diffaugment"]),
])
def test_a_backbone_that_cannot_serve_the_objective_is_a_spec_error(model, sets, fields,
                                                                     tmp_path):
    out = tmp_path / "run"
    result = gen_cmd("train", model, "--out", str(out),
                     *itertools.chain.from_iterable(("--set", s) for s in sets))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for field in fields:
        assert field in result.stderr, (field, result.stderr)
    assert not out.exists()


@pytest.mark.parametrize("change,field", [("model.backbone=resnet", "model.backbone"),
                                          ("model.spectral_norm=true", "model.spectral_norm"),
                                          ("model.lecam_weight=0.1", "model.lecam_weight"),
                                          ("model.conditioning=projection",
                                           "model.conditioning")])
def test_resuming_with_another_backbone_or_spectral_norm_is_refused(change, field, tmp_path):
    out = tmp_path / "run"
    common = ["--out", str(out), "-q", "--set", "train.device=cpu", "--set", "data.limit=64",
              "--set", "model.g_features=4", "--set", "model.d_features=4",
              "--set", "data.image_size=16", "--set", "train.batch_size=8",
              "--set", "train.num_samples=4"]
    first = gen_cmd("train", "dcgan", *common, "--set", "train.steps=2")
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    again = gen_cmd("train", "dcgan", *common, "--resume", "--set", "train.steps=4",
                    "--set", change)
    assert again.returncode == 2, again.stderr
    assert field in again.stderr and "Traceback" not in again.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("model", MODELS)
def test_every_model_lists_every_backbone_in_its_schema(model):
    schema = discover().registry.get(model).spec_class().model_json_schema()
    assert schema["properties"]["backbone"]["enum"] == BACKBONES
    assert "mlp" in schema["properties"]["backbone"]["description"]
