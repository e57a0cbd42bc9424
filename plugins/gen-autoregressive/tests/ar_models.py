"""Tiny models of each family member, built directly (no run directory), for the unit tests.

Imported by the test modules as ``ar_models`` (a name no other test folder uses)."""

from __future__ import annotations

import torch

import gen
from gen_autoregressive import specs
from gen_autoregressive.diagonal_bilstm import DiagonalBiLSTM
from gen_autoregressive.gated_pixelcnn import GatedPixelCNN
from gen_autoregressive.pixelcnn import PixelCNN
from gen_autoregressive.row_lstm import RowLSTM

# Narrow but not too narrow: with very few units per colour group, every ReLU of a group can
# be off at some position, which hides real dependences from the causality check.
TINY = {
    "pixelcnn": (PixelCNN, specs.PixelCNNSpec(hidden=8, blocks=2, output_hidden=32)),
    "gated-pixelcnn": (GatedPixelCNN, specs.GatedPixelCNNSpec(hidden=8, layers=3,
                                                               output_hidden=32)),
    "row-lstm": (RowLSTM, specs.RowLSTMSpec(hidden=8, layers=2, output_hidden=32)),
    "diagonal-bilstm": (DiagonalBiLSTM, specs.DiagonalBiLSTMSpec(hidden=8, layers=2,
                                                                 output_hidden=32)),
}
NAMES = list(TINY)


def data_info(size: int = 6, channels: int = 1, binary: bool = True,
              num_classes: int | None = 10) -> gen.DataInfo:
    return gen.DataInfo(name="test", channels=channels, image_size=size,
                        num_classes=num_classes, num_images=100, binary=binary)


def build(name: str, size: int = 6, channels: int = 1, binary: bool = True, seed: int = 0,
          double: bool = True, **spec_fields):
    """A tiny ``name`` model with fixed initial weights, in float64 unless ``double=False``."""
    cls, spec = TINY[name]
    torch.manual_seed(seed)
    model = cls(spec.model_copy(update=spec_fields), data_info(size, channels, binary))
    if double:
        model.net.double()
    return model
