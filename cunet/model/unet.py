"""The U-Net and the Conditioned U-Net, built in loops from a `Config`.

Convolutions are Keras' layers in the forms `cunet.kernels.convolutions` picks for speed on CPU.
Both models map a magnitude patch (batch, freq_bins, frames, 1) to an estimate of the same
shape: a sigmoid mask (the layer named "mask") times the input. The C-U-Net has a second
input, the condition vector (batch, n_instruments), which the control network turns into
the FiLM parameters of every encoder block.
"""

from __future__ import annotations

import keras

from cunet.kernels.batchnorm import FusedBatchNorm
from cunet.config import Config
from cunet.kernels.convolutions import StridedConv2D, StridedConv2DTranspose
from cunet.model.layers import ControlNetwork, FiLM

MASK_LAYER = "mask"
CONTROL_LAYER = "control"


def film_sizes(config: Config) -> list[int]:
    """FiLM parameters per encoder block: 1 ("simple") or the block's channels ("complex")."""
    m = config.model
    if m.film == "simple":
        return [1] * m.n_layers
    return [m.filters * 2**i for i in range(m.n_layers)]


def _initializer(config: Config):
    return keras.initializers.RandomNormal(stddev=config.model.init_stddev)


def encoder_block(x, filters: int, index: int, config: Config, film=None):
    """Conv2D 5x5 stride 2 -> BatchNorm -> [FiLM] -> LeakyReLU; halves freq and time."""
    m = config.model
    name = f"encoder_{index}"
    x = StridedConv2D(
        filters,
        m.kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=_initializer(config),
        name=f"{name}_conv",
    )(x)
    x = FusedBatchNorm(momentum=m.batchnorm_momentum, name=f"{name}_bn")(x)
    if film is not None:
        gamma, beta = film
        x = FiLM(name=f"{name}_film")([x, gamma, beta])
    return keras.layers.LeakyReLU(negative_slope=m.leaky_relu_slope, name=f"{name}_act")(x)


def decoder_block(x, filters: int, index: int, config: Config, last: bool):
    """Conv2DTranspose 5x5 stride 2 -> BatchNorm -> [Dropout] -> ReLU (sigmoid if last)."""
    m = config.model
    name = f"decoder_{index}"
    x = StridedConv2DTranspose(
        filters,
        m.kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=_initializer(config),
        name=f"{name}_deconv",
    )(x)
    x = FusedBatchNorm(momentum=m.batchnorm_momentum, name=f"{name}_bn")(x)
    if m.decoder_dropout[index]:
        x = keras.layers.Dropout(m.dropout_rate, name=f"{name}_dropout")(x)
    if last:
        return keras.layers.Activation("sigmoid", name=MASK_LAYER)(x)
    return keras.layers.ReLU(name=f"{name}_act")(x)


def build_model(config: Config, compile: bool = True) -> keras.Model:
    """Build (and by default compile) the dedicated U-Net or the C-U-Net of `config`.

    Inputs: "magnitude" (batch, freq_bins, frames, 1) and, for a C-U-Net, "condition"
    (batch, n_instruments). Output: "estimate", the masked magnitude, same shape as input.
    """
    m = config.model
    magnitude = keras.Input((config.patch.freq_bins, config.patch.frames, 1), name="magnitude")
    inputs = [magnitude]
    gammas = betas = [None] * m.n_layers
    if config.conditioned:
        condition = keras.Input((len(config.instruments),), name="condition")
        inputs.append(condition)
        control = ControlNetwork(
            film_sizes=film_sizes(config),
            units=m.control_units,
            kind=m.control,
            kernel_size=m.control_kernel_size,
            padding=m.control_padding,
            dropout=m.control_dropout,
            batchnorm_momentum=m.batchnorm_momentum,
            init_stddev=m.init_stddev,
            name=CONTROL_LAYER,
        )
        gammas, betas = control(condition)

    x = magnitude
    skips = []
    for i in range(m.n_layers):
        film = None if gammas[i] is None else (gammas[i], betas[i])
        x = encoder_block(x, m.filters * 2**i, i, config, film)
        skips.append(x)

    for i in range(m.n_layers):
        last = i == m.n_layers - 1
        if i > 0:
            x = keras.layers.Concatenate(name=f"decoder_{i}_skip")([x, skips[-i - 1]])
        filters = 1 if last else m.filters * 2 ** (m.n_layers - 2 - i)
        x = decoder_block(x, filters, i, config, last)

    estimate = keras.layers.Multiply(name="estimate")([magnitude, x])
    model = keras.Model(
        inputs if config.conditioned else magnitude,
        estimate,
        name="cunet" if config.conditioned else f"unet_{m.target}",
    )
    if compile:
        compile_model(model, config)
    return model


def compile_model(model: keras.Model, config: Config, loss=None, **kwargs) -> None:
    """Compile with the config's optimizer (Adam, lr, beta_1) and `loss` (default: the
    config's, L1 for the paper)."""
    t = config.training
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=t.learning_rate, beta_1=t.adam_beta_1),
        loss=t.loss if loss is None else loss,
        **kwargs,
    )
