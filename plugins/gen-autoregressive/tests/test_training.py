"""Training lowers the NLL; the specs carry the papers' architecture and the data defaults."""

import pytest
from ar_models import build

import gen
from gen import specs
from gen.data.datasets import load_dataset
from gen_autoregressive.specs import (
    DiagonalBiLSTMSpec,
    GatedPixelCNNSpec,
    PixelCNNSpec,
    RowLSTMSpec,
)

SPECS = [PixelCNNSpec, GatedPixelCNNSpec, RowLSTMSpec, DiagonalBiLSTMSpec]


@pytest.fixture(scope="module")
def mnist_batch() -> gen.Batch:
    """16 statically binarised 8x8 digits from the bundled data, scaled like the loader."""
    spec = specs.DataSpec(image_size=8, binarize="static", limit=16)
    data = load_dataset(spec)
    return gen.Batch(data.images.float() / 127.5 - 1, data.labels)


def test_training_lowers_the_nll(name, mnist_batch):
    model = build(name, size=8, double=False)
    losses = [model.train_step(lambda: mnist_batch)["nll"].item() for _ in range(15)]
    assert losses[-1] < losses[0] - 2, losses  # nats per 8x8 image


def test_conditional_training_uses_the_labels(mnist_batch):
    model = build("gated-pixelcnn", size=8, double=False, class_conditional=True)
    embed = model.net.layers[0].h_embed.weight
    before = embed.detach().clone()
    model.train_step(lambda: mnist_batch)
    changed = (embed.detach() != before).any(dim=1)
    assert changed[mnist_batch.labels.unique()].all()


@pytest.mark.parametrize("spec", SPECS)
def test_defaults_are_binarised_28x28_mnist_and_adam(spec):
    run = specs.validate(spec, {})
    assert (run.data.image_size, run.data.binarize) == (28, "static")
    assert run.model.optimizer.name == "adam" and run.model.optimizer.lr == 1e-3
    assert list(specs.default_spec(spec)["model"])[-1] == "optimizer"


@pytest.mark.parametrize("spec,field", [(GatedPixelCNNSpec, "kernel"),
                                        (GatedPixelCNNSpec, "first_kernel"),
                                        (RowLSTMSpec, "kernel")])
def test_even_kernel_is_an_error_naming_the_field(spec, field):
    with pytest.raises(gen.SpecError) as err:
        specs.validate(spec, {"model": {field: 4}})
    assert [p for p, _ in err.value.problems] == [f"model.{field}"]


def test_pixelcnn_layers_follow_the_paper():
    net = build("pixelcnn").net
    assert (net.input.kernel_size, net.input.kind) == ((7, 7), "A")
    for block in net.blocks:
        assert (block.conv.kernel_size, block.conv.kind) == ((3, 3), "B")
        assert block.reduce.kernel_size == block.expand.kernel_size == (1, 1)
    assert net.out1.kernel_size == net.out2.kernel_size == (1, 1)


def test_recurrent_layers_follow_the_paper():
    row = build("row-lstm").net.layers[0]
    assert (row.input_to_state.kernel_size, row.input_to_state.kind) == ((1, 3), "B")
    assert row.state_to_state.kernel_size == (3,)
    diagonal = build("diagonal-bilstm").net.layers[0]
    assert (diagonal.input_to_state.kernel_size, diagonal.input_to_state.kind) == ((1, 1), "B")
    hidden = diagonal.hidden  # 2x1 state-to-state: (above, beside) -> 4 gates, per direction
    assert diagonal.state_weight.shape == (2, 2 * hidden, 4 * hidden)


def test_gated_layers_have_two_stacks():
    first, second = build("gated-pixelcnn").net.layers[:2]
    assert (first.v_conv.kind, first.h_conv.kind, second.h_conv.kind) == ("vertical", "A", "B")
    assert first.h_conv.kernel_size == (1, 7) and second.h_conv.kernel_size == (1, 3)
    assert not first.residual and second.residual
