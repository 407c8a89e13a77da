"""`UNet`: the dedicated U-Net and the Conditioned U-Net (C-U-Net) as one Keras model class.

Over 300 lines only by the formatter's one-argument-per-line calls (about 290 before it).

A functional model subclass, as keras-hub's backbones are: the constructor takes the
hyperparameters, builds the graph from stock Keras layers plus `FiLM` and `ControlNetwork`,
and `get_config` returns those hyperparameters. Properties name the parts other modules use
(`mask_block`, `control_network`, `film_layers`), so nothing reaches in by layer name.
The CPU speed forms of the convolutions are not part of the model: `cunet.kernels.switch`
applies them to a built model on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional

import keras

from cunet.config import Config
from cunet.model.control import ControlNetwork
from cunet.model.film import FiLM

# the constructor arguments of `UNet` that `get_config` returns (with name, trainable, dtype)
HYPERPARAMETERS = (
    "freq_bins",
    "frames",
    "n_layers",
    "filters",
    "kernel_size",
    "decoder_dropout",
    "dropout_rate",
    "batchnorm_momentum",
    "leaky_relu_slope",
    "init_stddev",
    "n_conditions",
    "film",
    "control",
    "control_units",
    "control_kernel_size",
    "control_padding",
    "control_dropout",
)


@dataclass(frozen=True)
class MaskBlock:
    """The last decoder block: `deconv` -> `batchnorm` -> [`dropout`] -> `mask` (sigmoid).

    Its input is (batch, freq / 2, frames / 2, 2 * filters), `mask.output` the mask
    (batch, freq, frames, 1) that the model multiplies with its input.
    """

    deconv: keras.layers.Conv2DTranspose
    batchnorm: keras.layers.BatchNormalization
    dropout: Optional[keras.layers.Dropout]
    mask: keras.layers.Activation


def film_sizes(config: Config) -> list[int]:
    """FiLM parameters per encoder block: 1 ("simple") or the block's channels ("complex")."""
    m = config.model
    return _film_sizes(m.film, m.filters, m.n_layers)


def _film_sizes(film: str, filters: int, n_layers: int) -> list[int]:
    return [1] * n_layers if film == "simple" else [filters * 2**i for i in range(n_layers)]


def encoder_block(x, filters, index, *, kernel_size, momentum, slope, init_stddev, film=None, dtype=None):
    """Conv2D 5x5 stride 2 -> BatchNorm -> [FiLM] -> LeakyReLU; halves freq and time.
    Returns (output, the FiLM layer or None)."""
    name = f"encoder_{index}"
    initializer = keras.initializers.RandomNormal(stddev=init_stddev)
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=initializer,
        dtype=dtype,
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(momentum=momentum, dtype=dtype, name=f"{name}_bn")(x)
    film_layer = None
    if film is not None:
        film_layer = FiLM(dtype=dtype, name=f"{name}_film")
        x = film_layer([x, *film])
    return keras.layers.LeakyReLU(negative_slope=slope, dtype=dtype, name=f"{name}_act")(x), film_layer


def decoder_block(x, filters, index, *, kernel_size, momentum, dropout_rate, last, init_stddev, dtype=None):
    """Conv2DTranspose 5x5 stride 2 -> BatchNorm -> [Dropout] -> ReLU (sigmoid if `last`).
    Returns (output, its `MaskBlock` if `last` else None)."""
    name = f"decoder_{index}"
    initializer = keras.initializers.RandomNormal(stddev=init_stddev)
    deconv = keras.layers.Conv2DTranspose(
        filters,
        kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=initializer,
        dtype=dtype,
        name=f"{name}_deconv",
    )
    batchnorm = keras.layers.BatchNormalization(momentum=momentum, dtype=dtype, name=f"{name}_bn")
    x = batchnorm(deconv(x))
    dropout = None
    if dropout_rate is not None:
        dropout = keras.layers.Dropout(dropout_rate, dtype=dtype, name=f"{name}_dropout")
        x = dropout(x)
    if last:
        mask = keras.layers.Activation("sigmoid", dtype=dtype, name="mask")
        return mask(x), MaskBlock(deconv, batchnorm, dropout, mask)
    return keras.layers.ReLU(dtype=dtype, name=f"{name}_act")(x), None


@dataclass(frozen=True)
class _Parts:
    """References to the model's parts, held outside Keras' layer tracking."""

    mask_block: MaskBlock
    control_network: Optional[ControlNetwork]
    film_layers: tuple


def _graph(hp, dtype):
    """(inputs, estimate, `_Parts`) of the U-Net with hyperparameters `hp` (see `UNet`)."""
    magnitude = keras.Input((hp.freq_bins, hp.frames, 1), name="magnitude")
    inputs, gammas, betas, control_network = magnitude, [None] * hp.n_layers, [None] * hp.n_layers, None
    if hp.n_conditions is not None:
        condition = keras.Input((hp.n_conditions,), name="condition")
        inputs = [magnitude, condition]
        control_network = ControlNetwork(
            film_sizes=_film_sizes(hp.film, hp.filters, hp.n_layers),
            units=hp.control_units,
            kind=hp.control,
            kernel_size=hp.control_kernel_size,
            padding=hp.control_padding,
            dropout=hp.control_dropout,
            batchnorm_momentum=hp.batchnorm_momentum,
            init_stddev=hp.init_stddev,
            dtype=dtype,
            name="control",
        )
        gammas, betas = control_network(condition)
    x, skips, film_layers = magnitude, [], []
    for i in range(hp.n_layers):
        x, film_layer = encoder_block(
            x,
            hp.filters * 2**i,
            i,
            kernel_size=hp.kernel_size,
            momentum=hp.batchnorm_momentum,
            slope=hp.leaky_relu_slope,
            init_stddev=hp.init_stddev,
            film=None if gammas[i] is None else (gammas[i], betas[i]),
            dtype=dtype,
        )
        skips.append(x)
        film_layers += [film_layer] if film_layer is not None else []
    for i in range(hp.n_layers):
        last = i == hp.n_layers - 1
        if i > 0:
            x = keras.layers.Concatenate(dtype=dtype, name=f"decoder_{i}_skip")([x, skips[-i - 1]])
        x, mask_block = decoder_block(
            x,
            1 if last else hp.filters * 2 ** (hp.n_layers - 2 - i),
            i,
            kernel_size=hp.kernel_size,
            momentum=hp.batchnorm_momentum,
            dropout_rate=hp.dropout_rate if hp.decoder_dropout[i] else None,
            last=last,
            init_stddev=hp.init_stddev,
            dtype=dtype,
        )
    estimate = keras.layers.Multiply(dtype=dtype, name="estimate")([magnitude, x])
    return inputs, estimate, _Parts(mask_block, control_network, tuple(film_layers))


@keras.saving.register_keras_serializable(package="cunet")
class UNet(keras.Model):
    """The U-Net of Jansson et al. 2017 and, with `n_conditions`, the C-U-Net of
    Meseguer-Brocal & Peeters 2019: encoder blocks modulated by FiLM layers whose
    parameters a control network computes from the condition vector.

    Encoder block i: Conv2D(`filters` * 2**i, `kernel_size`, stride 2) -> BatchNorm ->
    [FiLM] -> LeakyReLU. Decoder block i: Conv2DTranspose stride 2 -> BatchNorm ->
    [Dropout if `decoder_dropout[i]`] -> ReLU, the last one with one channel and a sigmoid:
    the mask. Decoder blocks after the first take the matching encoder output concatenated.

    Args:
        freq_bins, frames: the patch shape; both divisible by 2**n_layers.
        n_layers: encoder (and decoder) blocks.
        filters: channels of the first encoder block.
        kernel_size: of every (transposed) convolution.
        decoder_dropout: n_layers bools, dropout after decoder block i.
        dropout_rate, batchnorm_momentum, leaky_relu_slope: as named.
        init_stddev: standard deviation of the normal kernel initializers.
        n_conditions: length of the condition vector; None for a dedicated U-Net.
        film: "simple" (one gamma, beta per block) or "complex" (one per channel).
        control, control_units, control_kernel_size, control_padding, control_dropout:
            the `ControlNetwork` ("dense" or "cnn").
        dtype: the layers' dtype policy (None: Keras' global policy).

    Call arguments:
        inputs: magnitude (batch, freq_bins, frames, 1), and for a C-U-Net the list
            `[magnitude, condition]` with condition (batch, n_conditions).

    Returns:
        The estimate (batch, freq_bins, frames, 1): the mask times the magnitude.

    Example:
        >>> model = UNet(freq_bins=64, frames=32, n_layers=3, filters=4, n_conditions=4,
        ...              decoder_dropout=[False, True, False], film="complex")
        >>> model.mask_block.mask.output.shape
        (None, 64, 32, 1)
    """

    def __init__(
        self,
        freq_bins=512,
        frames=128,
        n_layers=6,
        filters=16,
        kernel_size=5,
        decoder_dropout=None,
        dropout_rate=0.5,
        batchnorm_momentum=0.9,
        leaky_relu_slope=0.2,
        init_stddev=0.02,
        n_conditions=None,
        film="simple",
        control="dense",
        control_units=(16, 64, 256),
        control_kernel_size=4,
        control_padding=None,
        control_dropout=0.5,
        dtype=None,
        **kwargs,
    ):
        decoder_dropout = [False] * n_layers if decoder_dropout is None else [bool(d) for d in decoder_dropout]
        if len(decoder_dropout) != n_layers:
            raise ValueError(f"decoder_dropout needs {n_layers} entries, got {len(decoder_dropout)}")
        if film not in ("simple", "complex"):
            raise ValueError(f"film must be 'simple' or 'complex', got {film!r}")
        hyperparameters = dict(
            freq_bins=freq_bins,
            frames=frames,
            n_layers=n_layers,
            filters=filters,
            kernel_size=kernel_size,
            decoder_dropout=decoder_dropout,
            dropout_rate=dropout_rate,
            batchnorm_momentum=batchnorm_momentum,
            leaky_relu_slope=leaky_relu_slope,
            init_stddev=init_stddev,
            n_conditions=n_conditions,
            film=film,
            control=control,
            control_units=list(control_units),
            control_kernel_size=control_kernel_size,
            control_padding=None if control_padding is None else list(control_padding),
            control_dropout=control_dropout,
        )
        inputs, estimate, parts = _graph(SimpleNamespace(**hyperparameters), dtype)
        kwargs.setdefault("name", "cunet" if n_conditions is not None else "unet")
        super().__init__(inputs, estimate, **kwargs)
        for key, value in hyperparameters.items():  # one attribute per argument, same name
            setattr(self, key, value)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)
        self._parts = parts

    @property
    def conditioned(self) -> bool:
        """True for a C-U-Net (inputs magnitude and condition)."""
        return self.n_conditions is not None

    @property
    def mask_block(self) -> MaskBlock:
        """The last decoder block, whose sigmoid output is the mask."""
        return self._parts.mask_block

    @property
    def control_network(self) -> Optional[ControlNetwork]:
        """The `ControlNetwork` of a C-U-Net; None for a dedicated U-Net."""
        return self._parts.control_network

    @property
    def film_layers(self) -> list:
        """The `FiLM` layer of each encoder block (empty for a dedicated U-Net)."""
        return list(self._parts.film_layers)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            **{key: _plain(getattr(self, key)) for key in HYPERPARAMETERS},
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)


def _plain(value):
    """A list attribute as a plain list (Keras tracks lists set on a layer in its own type)."""
    return list(value) if isinstance(value, (list, tuple)) else value


def unet_arguments(config: Config) -> dict:
    """The `UNet` constructor arguments of an app `Config` (its model and patch sections)."""
    m = config.model
    return dict(
        freq_bins=config.patch.freq_bins,
        frames=config.patch.frames,
        n_layers=m.n_layers,
        filters=m.filters,
        kernel_size=m.kernel_size,
        decoder_dropout=m.decoder_dropout,
        dropout_rate=m.dropout_rate,
        batchnorm_momentum=m.batchnorm_momentum,
        leaky_relu_slope=m.leaky_relu_slope,
        init_stddev=m.init_stddev,
        n_conditions=len(config.instruments) if config.conditioned else None,
        film=m.film,
        control=m.control,
        control_units=m.control_units,
        control_kernel_size=m.control_kernel_size,
        control_padding=m.control_padding,
        control_dropout=m.control_dropout,
        name="cunet" if config.conditioned else f"unet_{m.target}",
    )


def build_model(config: Config, compile: bool = True) -> UNet:
    """The `UNet` of `config`, compiled by default (`compile_model`)."""
    model = UNet(**unet_arguments(config))
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
