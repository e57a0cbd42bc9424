"""Specs of the autoregressive family. Pydantic only (no torch).

Every model defaults to binarised 28x28 MNIST with a fixed (static) binarisation, the benchmark
of van den Oord et al. 2016a (section 5: 81.30 nats for a 1-layer PixelRNN, 79.20 for 7
layers). The papers' networks are far wider and deeper than is practical on a CPU; each
docstring gives the paper's size next to the default, and the fields scale a model up to it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

import gen


def _odd(v: int) -> int:
    if v % 2 == 0:
        raise ValueError("must be odd (masks are centred on the kernel)")
    return v


OddKernel = Annotated[int, Field(ge=3), AfterValidator(_odd)]


def _adam() -> gen.OptimizerSpec:
    return gen.OptimizerSpec(name="adam", lr=1e-3, betas=(0.9, 0.999))


def _optimizer() -> Any:
    return Field(
        default_factory=_adam,
        description="Adam, lr 1e-3, trains these small networks well; the PixelRNN paper used "
        "RMSProp (optimizer.name=rmsprop)",
    )


class AutoregressiveSpec(gen.ModelSpec):
    """Shared by the family: the binarised-MNIST data defaults."""

    data_defaults: ClassVar[dict] = {"image_size": 28, "binarize": "static"}


class PixelCNNSpec(AutoregressiveSpec):
    """PixelCNN (van den Oord et al. 2016a, section 3.5 and Figure 5): a 7x7 mask-A convolution,
    residual blocks (1x1 to h, 3x3 mask B, 1x1 back to 2h; ReLUs before each) and two ReLU + 1x1
    mask-B output layers.

    Paper (CIFAR-10): 15 layers, h = 128 (a residual stream of 256 features).
    Default: h = 16, 6 blocks, 64 output units, small enough to train on a CPU.
    """

    name: Literal["pixelcnn"] = "pixelcnn"
    hidden: int = Field(16, gt=0, description="h: the residual stream has 2h features")
    blocks: int = Field(6, ge=0, description="residual blocks of 3x3 mask-B convolutions")
    output_hidden: int = Field(64, gt=0, description="features of the 1x1 output layer")
    optimizer: gen.OptimizerSpec = _optimizer()


class GatedPixelCNNSpec(AutoregressiveSpec):
    """Gated PixelCNN (van den Oord et al. 2016b, section 2 and Figure 2): a vertical stack
    (rows above) and a horizontal stack (pixels to the left) without blind spot, gated
    tanh x sigmoid units, a residual horizontal stack, and class conditioning by a per-layer
    label embedding added inside the gates (eq. 4), when ``class_conditional``.

    Paper: CIFAR-10 / ImageNet networks many times deeper and wider (section 3.1).
    Default: 6 layers of 16 features, a 7x7 first layer and 3x3 after, 64 output units.
    """

    name: Literal["gated-pixelcnn"] = "gated-pixelcnn"
    hidden: int = Field(16, gt=0, description="features in each stack")
    layers: int = Field(6, gt=0, description="gated layers, the first included")
    kernel: OddKernel = Field(3, description="odd kernel size after the first layer")
    first_kernel: OddKernel = Field(7, description="odd kernel size of the first layer")
    output_hidden: int = Field(64, gt=0, description="features of the 1x1 output layer")
    class_conditional: bool = Field(
        False, description="condition on the data's class labels (p(x | y), eq. 4)"
    )
    optimizer: gen.OptimizerSpec = _optimizer()



class RowLSTMSpec(AutoregressiveSpec):
    """Row LSTM (van den Oord et al. 2016a, section 3.1): a 7x7 mask-A convolution, then LSTM
    layers that process the image row by row: a k x 1 mask-B input-to-state convolution along
    the row and a 3x1 state-to-state convolution over the previous row's state (a triangular
    receptive field), with residual connections (section 3.4) and ReLU + 1x1 outputs.

    Paper (CIFAR-10): 12 layers, h = 128. Default: 3 layers, h = 16.
    """

    name: Literal["row-lstm"] = "row-lstm"
    hidden: int = Field(16, gt=0, description="h: LSTM state size; the residual stream is 2h")
    layers: int = Field(3, gt=0, description="Row LSTM layers")
    kernel: OddKernel = Field(3, description="k: odd width of the input-to-state convolution")
    output_hidden: int = Field(64, gt=0, description="features of the 1x1 output layer")
    optimizer: gen.OptimizerSpec = _optimizer()



class DiagonalBiLSTMSpec(AutoregressiveSpec):
    """Diagonal BiLSTM (van den Oord et al. 2016a, section 3.2): a 7x7 mask-A convolution, then
    layers that skew the map, run a column-wise LSTM with a 1x1 mask-B input-to-state and a 2x1
    state-to-state convolution in each direction, shift the right-to-left output down a row
    and unskew; residual connections and ReLU + 1x1 outputs as in the Row LSTM.

    Paper (binarised MNIST, 79.20 nats): 7 layers, h = 16; CIFAR-10: 12 layers, h = 128.
    Default: 2 layers, h = 16 (the column loop makes it the slowest of the family on a CPU).
    """

    name: Literal["diagonal-bilstm"] = "diagonal-bilstm"
    hidden: int = Field(16, gt=0, description="h: LSTM state size; the residual stream is 2h")
    layers: int = Field(2, gt=0, description="Diagonal BiLSTM layers")
    output_hidden: int = Field(64, gt=0, description="features of the 1x1 output layer")
    optimizer: gen.OptimizerSpec = _optimizer()
