"""Causality, the property these models live or die by, checked with gen's reusable helper:
no output may depend on its own sub-pixel or a later one (raster, then R -> G -> B)."""

import pytest
import torch
from ar_models import build

from gen.testing import assert_causal
from gen_autoregressive.masks import build_mask


@pytest.mark.parametrize("channels,binary,size", [(1, True, 6), (3, False, 5), (3, True, 4)])
def test_every_model_is_causal(name, channels, binary, size):
    model = build(name, size=size, channels=channels, binary=binary)
    assert_causal(model.logits, (channels, size, size))


def test_conditional_gated_pixelcnn_is_causal():
    model = build("gated-pixelcnn", size=5, channels=3, binary=False, class_conditional=True)
    assert_causal(lambda x: model.logits(x, torch.arange(len(x)) % 10), (3, 5, 5))


def _remask(conv, kind):
    conv.mask.copy_(build_mask(conv.out_groups, conv.in_groups, conv.kernel_size, kind))


def test_first_layer_with_mask_b_is_caught():
    """Mask B on the first layer lets each output see the very sub-pixel it predicts."""
    model = build("pixelcnn", size=6)
    assert_causal(model.logits, (1, 6, 6))
    _remask(model.net.input, "B")
    with pytest.raises(AssertionError, match=r"\(row 0, col 0, channel 0\) depends on the input "
                       r"at itself"):
        assert_causal(model.logits, (1, 6, 6))


def test_colour_masking_ignored_at_the_output_is_caught():
    """An output layer that mixes all colour groups lets R see the G and B of its own pixel."""
    model = build("pixelcnn", size=4, channels=3, binary=False)
    model.net.out2.mask.fill_(1)
    with pytest.raises(AssertionError, match="not causal"):
        assert_causal(model.logits, (3, 4, 4))


def test_row_lstm_with_unmasked_input_to_state_is_caught():
    model = build("row-lstm", size=5)
    model.net.layers[0].input_to_state.mask.fill_(1)  # now reads the pixel to the right
    with pytest.raises(AssertionError, match="not causal"):
        assert_causal(model.logits, (1, 5, 5))


def test_a_model_that_ignores_its_input_is_caught():
    with pytest.raises(AssertionError, match="depends on no earlier sub-pixel"):
        assert_causal(lambda x: torch.zeros_like(x) + 0 * x.sum(), (1, 3, 3))


def test_helper_checks_the_output_shape():
    with pytest.raises(AssertionError, match=r"expected \(N, C, H, W\[, K\]\)"):
        assert_causal(lambda x: x.flatten(1), (1, 3, 3))


def _sees(model, output, inputs) -> list[bool]:
    """Whether output (row, col) depends on each input (row, col) (one channel)."""
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(model.logits(x)[0, 0, output[0], output[1]].sum(), x)
    return [bool(grad[0, 0, i, j] != 0) for i, j in inputs]


@pytest.mark.parametrize("name,blind", [("pixelcnn", True), ("row-lstm", True),
                                        ("gated-pixelcnn", False), ("diagonal-bilstm", False)])
def test_blind_spot(name, blind):
    """PixelCNN's stacked masks and the Row LSTM's triangular field miss pixels up and to the
    right (here (3, 6) for the output at (4, 1)); the Gated PixelCNN's two stacks and the
    Diagonal BiLSTM see them (van den Oord et al. 2016a Figure 2, 2016b Figure 1)."""
    model = build(name, size=8)
    assert _sees(model, (4, 1), [(3, 6), (4, 0), (3, 1)]) == [not blind, True, True]
