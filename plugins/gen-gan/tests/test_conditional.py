"""Conditional models: labels reach both networks, `gen sample --labels`, refusing unlabelled
data, and AC-GAN's auxiliary classifier learning the digits."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from gan_helpers import Batches, tiny_model

from gen import DataSpec
from gen.cli.main import cli
from gen.plugins import discover
from gen.testing.kit import tiny_spec, train_tiny
from gen_gan.backbones.dcgan import DCGANGenerator


class Recorder:
    """Wraps DCGANGenerator.forward to record the labels every call receives."""

    def __init__(self, monkeypatch):
        self.labels: list[torch.Tensor] = []
        forward = DCGANGenerator.forward

        def spy(module, z, y=None):
            self.labels.append(None if y is None else y.clone())
            return forward(module, z, y)

        monkeypatch.setattr(DCGANGenerator, "forward", spy)


@pytest.mark.parametrize("name", ["cgan", "acgan"])
def test_generator_receives_exactly_the_labels_asked_for(name, monkeypatch):
    model = tiny_model(name)
    assert model.conditional and model.generator.num_classes == 10
    seen = Recorder(monkeypatch)
    wanted = torch.tensor([3, 1, 4, 1, 5])
    images = model.sample(5, labels=wanted)
    assert images.shape == (5, 1, 16, 16)
    assert torch.equal(seen.labels[-1], wanted)
    model.sample(12)  # without labels a conditional model cycles through its classes
    assert torch.equal(seen.labels[-1], torch.arange(12) % 10)


@pytest.mark.parametrize("name", ["cgan", "acgan"])
def test_the_label_changes_the_image(name):
    model = tiny_model(name)
    model.train(False)
    z = torch.randn(2, 8)
    a = model.generator(z, torch.tensor([0, 0]))
    b = model.generator(z, torch.tensor([7, 7]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="conditional"):
        model.generator(z)


def test_cgan_discriminator_sees_the_label():
    model = tiny_model("cgan")
    model.train(False)
    x = torch.rand(2, 1, 16, 16)
    assert not torch.allclose(model.discriminator(x, torch.tensor([0, 0])),
                              model.discriminator(x, torch.tensor([9, 9])))


def test_acgan_discriminator_returns_scores_and_class_logits():
    model = tiny_model("acgan")
    scores, logits = model.discriminator(torch.rand(3, 1, 16, 16))
    assert scores.shape == (3,) and logits.shape == (3, 10)
    logs = model.train_step(Batches())
    assert {"d_class", "g_class", "d_accuracy"} <= set(logs)


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    info = discover().registry.get("cgan")
    spec = tiny_spec(info, {"model.g_features": 4, "model.d_features": 4,
                            "model.latent_dim": 8, "data.image_size": 16})
    return train_tiny(info, spec, tmp_path_factory.mktemp("cgan") / "run").run.root


def test_cli_labels_all_gives_one_row_per_class(cgan_run, tmp_path, monkeypatch):
    seen = Recorder(monkeypatch)
    out = tmp_path / "s.npz"
    args = ["sample", str(cgan_run), "--labels", "all", "-n", "20", "--out", str(out),
            "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    expected = torch.arange(10).repeat_interleave(2)
    assert torch.equal(seen.labels[-1], expected)
    saved = np.load(out)
    assert saved["images"].shape == (20, 1, 16, 16)
    assert saved["labels"].tolist() == expected.tolist()


def test_cli_rejects_an_out_of_range_label(cgan_run):
    result = CliRunner().invoke(cli, ["sample", str(cgan_run), "--labels", "3,10",
                                      "--device", "cpu"])
    assert result.exit_code == 2
    assert "10 is out of range" in result.output and "0..9" in result.output


@pytest.mark.parametrize(("name", "extra", "said"), [
    ("cgan", [], "cgan"), ("acgan", [], "acgan"),
    ("hinge", ["--set", "model.conditioning=projection"],
     "hinge with model.conditioning=projection"),
])
def test_training_on_unlabelled_images_is_refused(name, extra, said, tmp_path):
    """Refused when the data is opened, before any model is built or folder written."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [
        "train", name, "--set", "data.dataset=image-folder", "--set", f"data.root={folder}",
        "--set", "data.image_size=8", "--set", "train.device=cpu", "--out", str(out), "-q",
        *extra])
    assert result.exit_code == 1, result.output
    assert f"{said} is conditional and needs class labels" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_acgan_classifier_head_learns_the_digits():
    """About 150 tiny steps on the bundled MNIST train split; the auxiliary classifier then
    labels held-out test digits far better than chance (10%)."""
    from gen.data.datasets import load_dataset
    from gen.data.loader import BatchStream
    from gen_gan.acgan import ACGAN
    from gen_gan.specs import ACGANSpec

    torch.manual_seed(0)
    train = load_dataset(DataSpec(split="train", image_size=16))
    test = load_dataset(DataSpec(split="test", image_size=16))
    model = ACGAN(ACGANSpec(g_features=8, d_features=8, latent_dim=16), train.info)
    stream = BatchStream(train, 32, seed=0, device=torch.device("cpu"))
    for _ in range(150):
        model.train_step(stream)
    model.train(False)
    with torch.no_grad():
        _, logits = model.discriminator(test.images.float() / 127.5 - 1)
    accuracy = (logits.argmax(1) == test.labels).float().mean().item()
    assert accuracy > 0.4, f"test accuracy {accuracy:.2f}"
