"""Sampling: the cached samplers against the naive reference, the RNG contract, labels."""

import json

import numpy as np
import pytest
import torch
from ar_models import build
from click.testing import CliRunner

from gen.cli.main import cli
from gen.plugins import discover
from gen.testing.kit import tiny_spec, train_tiny
from gen_autoregressive.base import Stepper

CASES = [(1, True, 6), (3, False, 4)]  # (channels, binary, size)


@pytest.mark.parametrize("channels,binary,size", CASES)
def test_fast_sampler_gives_the_naive_samples(name, channels, binary, size):
    """Same seed, same images. In float64 the two paths' probabilities agree to ~1e-15, so
    the inverse-CDF draws from the shared uniforms cannot fall apart."""
    model = build(name, size=size, channels=channels, binary=binary)
    assert model.fast_stepper(2, None) is not None
    naive = model.sample_naive(4, generator=torch.Generator().manual_seed(3))
    fast = model.sample(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(naive, fast)


class Checked(Stepper):
    """Runs a fast stepper and compares each of its outputs with a full forward pass."""

    def __init__(self, model, fast):
        self.model, self.fast, self.labels, self.worst = model, fast, fast.labels, 0.0
        self.x = fast.x

    def logits(self, i, j, c):
        got = self.fast.logits(i, j, c)
        want = self.model.logits(self.fast.x, self.labels)[:, c, i, j]
        self.worst = max(self.worst, (got - want).abs().max().item())
        return got

    def commit(self, i, j, c, value):
        self.fast.commit(i, j, c, value)

    def end_row(self, i):
        self.fast.end_row(i)


@pytest.mark.parametrize("channels,binary,size", CASES)
def test_fast_outputs_equal_full_forward_at_every_step(name, channels, binary, size):
    model = build(name, size=size, channels=channels, binary=binary)
    checked = Checked(model, model.fast_stepper(3, None))
    with torch.no_grad():
        model.sample_with(checked, 3, torch.Generator().manual_seed(0))
    assert checked.worst < 1e-10


def test_fast_sampler_follows_labels():
    model = build("gated-pixelcnn", size=5, class_conditional=True)
    labels = torch.tensor([3, 3, 5, 5])
    naive = model.sample_naive(4, labels, generator=torch.Generator().manual_seed(1))
    fast = model.sample(4, labels, generator=torch.Generator().manual_seed(1))
    assert torch.equal(naive, fast)
    other = model.sample(4, torch.tensor([7, 7, 7, 7]), generator=torch.Generator().manual_seed(1))
    assert not torch.equal(fast, other), "the labels must change the samples"


def test_sampling_draws_only_from_the_generator(name):
    model = build(name, size=4, double=False)
    before = torch.get_rng_state()
    a = model.sample(3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), before), "sampling touched the global RNG"
    b = model.sample(3, generator=torch.Generator().manual_seed(5))
    c = model.sample(3, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {-1.0, 1.0}
    assert model.net.training, "sampling must restore training mode"


def test_8bit_samples_are_loader_values():
    model = build("pixelcnn", size=3, channels=3, binary=False, double=False)
    images = model.sample(2, generator=torch.Generator().manual_seed(0))
    values = ((images + 1) * 127.5).round()
    assert torch.equal(values / 127.5 - 1, images), "not of the form v / 127.5 - 1"
    assert values.min() >= 0 and values.max() <= 255


def test_gen_sample_labels_on_a_conditional_run(tmp_path):
    info = discover().registry.get("gated-pixelcnn")
    spec = tiny_spec(info, {"model.hidden": 4, "model.layers": 2, "model.output_hidden": 8,
                            "model.class_conditional": True, "data.image_size": 6})
    run = train_tiny(info, spec, tmp_path / "run").run.root
    assert json.loads((run / "spec.json").read_text())["model"]["class_conditional"]
    out = tmp_path / "s.npz"
    result = CliRunner().invoke(cli, ["sample", str(run), "-n", "4", "--labels", "3,5",
                                      "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    saved = np.load(out)
    assert saved["labels"].tolist() == [3, 5, 3, 5]
    assert saved["images"].shape == (4, 1, 6, 6)
