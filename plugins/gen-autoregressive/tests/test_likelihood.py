"""The exact likelihood: a normalised distribution, in nats per image, with correct units."""

import itertools
import math

import pytest
import torch
from ar_models import build, data_info

import gen
from gen_autoregressive.base import DiscreteOutput
from gen_autoregressive.gated_pixelcnn import GatedPixelCNN
from gen_autoregressive.specs import GatedPixelCNNSpec


def every_image(channels: int, size: int, levels: int) -> torch.Tensor:
    """All images with ``levels`` values per sub-pixel, scaled to [-1, 1] like the loader."""
    values = torch.tensor(list(itertools.product(range(levels), repeat=channels * size**2)))
    return values.view(-1, channels, size, size).double() * (2 / (levels - 1)) - 1


@pytest.mark.parametrize("channels", [1, 3])
def test_binary_model_sums_to_one_over_every_image(name, channels):
    """2x2 binary images: 16 (grey) or 4096 (colour) of them; their probabilities sum to 1."""
    model = build(name, size=2, channels=channels, binary=True)
    log_p = model.log_prob(every_image(channels, 2, 2))
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-9)


def test_8bit_model_sums_to_one_over_every_image(name):
    """1x1 grey 8-bit images: the 256-way softmax is normalised."""
    model = build(name, size=1, channels=1, binary=False)
    log_p = model.log_prob(every_image(1, 1, 256))
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-9)


def test_conditional_model_is_normalised_for_each_label():
    model = build("gated-pixelcnn", size=2, class_conditional=True)
    images = every_image(1, 2, 2)
    totals = [torch.logsumexp(model.log_prob(images, torch.full((16,), k)), 0).item()
              for k in (0, 7)]
    assert totals == pytest.approx([0.0, 0.0], abs=1e-9)
    with pytest.raises(gen.GenError, match="needs labels"):
        model.log_prob(images)


@pytest.mark.parametrize("binary,levels", [(True, 2), (False, 256)])
def test_log_prob_is_per_image_in_nats(name, binary, levels):
    """With the output layer zeroed every sub-pixel is uniform, so log p(x) = -C*H*W*ln(levels)
    for every image: one value per image, in nats."""
    model = build(name, size=4, channels=3, binary=binary)
    torch.nn.init.zeros_(model.net.out2.weight)
    torch.nn.init.zeros_(model.net.out2.bias)
    x = torch.rand(5, 3, 4, 4) * 2 - 1
    log_p = model.log_prob(x)
    assert log_p.shape == (5,)
    assert torch.allclose(log_p, torch.full((5,), -3 * 16 * math.log(levels), dtype=log_p.dtype))


def test_train_step_reports_nats_and_bits_per_dim(name):
    model = build(name, size=4, channels=3, binary=False, double=False)
    x = (torch.randint(0, 256, (6, 3, 4, 4)).float() / 127.5) - 1
    expected = -model.log_prob(x).mean().item()
    losses = model.train_step(lambda: gen.Batch(x, None))
    assert set(losses) == {"nll", "bits_per_dim"}
    assert losses["nll"].item() == pytest.approx(expected, rel=1e-6)
    assert losses["bits_per_dim"].item() == pytest.approx(expected / (48 * math.log(2)), rel=1e-6)


def test_pixel_values_are_recovered_exactly_from_loader_scaling():
    values = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    images = values.float().div_(127.5).sub_(1.0)  # exactly what gen's data loader does
    head = DiscreteOutput(binary=False)
    assert torch.equal(head.values(images), values.long())
    assert torch.equal(head.inputs(head.values(images)), images)
    binary = DiscreteOutput(binary=True)
    assert binary.values(torch.tensor([-1.0, 1.0])).tolist() == [0, 1]
    assert binary.inputs(torch.tensor([0, 1])).tolist() == [-1.0, 1.0]


def test_output_follows_data_binary():
    assert build("pixelcnn", binary=True).head.outputs == 1
    assert build("pixelcnn", binary=False).head.outputs == 256


def test_class_conditional_without_labels_is_a_data_error():
    spec = GatedPixelCNNSpec(hidden=4, layers=1, class_conditional=True)
    with pytest.raises(gen.DataError, match="no class labels"):
        GatedPixelCNN(spec, data_info(num_classes=None))
    assert GatedPixelCNN(spec, data_info(num_classes=10)).conditional
    assert not GatedPixelCNN(GatedPixelCNNSpec(hidden=4, layers=1), data_info()).conditional


def test_density_model_protocol_and_exact_likelihood(name):
    model = build(name)
    assert isinstance(model, gen.DensityModel)
    assert model.likelihood == "exact"
