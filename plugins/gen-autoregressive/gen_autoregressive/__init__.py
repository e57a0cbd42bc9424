"""gen-autoregressive: the autoregressive family, with exact likelihoods. Registration only:
importing this does not import torch."""

import gen


@gen.hookimpl
def gen_register_models(register):
    register(
        name="pixelcnn",
        kind="autoregressive",
        summary="PixelCNN with masked convolutions and residual blocks (van den Oord et al. 2016)",
        spec="gen_autoregressive.specs:PixelCNNSpec",
        model="gen_autoregressive.pixelcnn:PixelCNN",
    )
    register(
        name="gated-pixelcnn",
        kind="autoregressive",
        summary="Gated PixelCNN, vertical and horizontal stacks, optionally class-conditional "
        "(van den Oord et al. 2016)",
        spec="gen_autoregressive.specs:GatedPixelCNNSpec",
        model="gen_autoregressive.gated_pixelcnn:GatedPixelCNN",
        conditional=False,  # model.class_conditional=true makes a run conditional
    )
    register(
        name="row-lstm",
        kind="autoregressive",
        summary="PixelRNN with Row LSTM layers (van den Oord et al. 2016)",
        spec="gen_autoregressive.specs:RowLSTMSpec",
        model="gen_autoregressive.row_lstm:RowLSTM",
    )
    register(
        name="diagonal-bilstm",
        kind="autoregressive",
        summary="PixelRNN with Diagonal BiLSTM layers (van den Oord et al. 2016)",
        spec="gen_autoregressive.specs:DiagonalBiLSTMSpec",
        model="gen_autoregressive.diagonal_bilstm:DiagonalBiLSTM",
    )
