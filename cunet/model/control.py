"""`ControlNetwork`: the condition vector -> the FiLM parameters of every encoder block.

Bodies use `keras.ops` only, so the layer runs on any Keras 3 backend.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cunet")
class ControlNetwork(keras.layers.Layer):
    """Maps a condition vector to the FiLM parameters of every encoder block.

    `kind="dense"`: Dense layers of `units` (ReLU). `kind="cnn"`: Conv1D layers of
    `units` filters over the condition vector seen as a sequence of length n_conditions
    with one channel, kernel `kernel_size`, paddings `padding`. Every hidden layer but the
    first is followed by Dropout(`dropout`) and BatchNorm(`batchnorm_momentum`). Two linear
    heads produce all gammas and all betas, split into one (batch, size) pair per block.

    Args:
        film_sizes: list of ints, the number of FiLM parameters per encoder block: 1 for
            "simple" FiLM, the block's channel count for "complex" FiLM.
        units: list of ints, the hidden sizes.
        kind: "dense" or "cnn".
        kernel_size: Conv1D kernel size (cnn only).
        padding: list of Conv1D paddings, one per hidden layer (cnn only).
        dropout: dropout rate after hidden layers 2..n.
        batchnorm_momentum: BatchNorm momentum.
        init_stddev: standard deviation of the normal kernel initializer.

    Call arguments:
        condition: (batch, n_conditions) float tensor.

    Returns:
        `(gammas, betas)`, two lists with one (batch, film_sizes[i]) tensor per block.
    """

    def __init__(
        self,
        film_sizes,
        units,
        kind="dense",
        kernel_size=4,
        padding=None,
        dropout=0.5,
        batchnorm_momentum=0.9,
        init_stddev=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in ("dense", "cnn"):
            raise ValueError(f"kind must be 'dense' or 'cnn', got {kind!r}")
        self.film_sizes = list(film_sizes)
        self.units = list(units)
        self.kind = kind
        self.kernel_size = kernel_size
        self.padding = list(padding) if padding is not None else ["same"] * len(self.units)
        self.dropout = dropout
        self.batchnorm_momentum = batchnorm_momentum
        self.init_stddev = init_stddev

        initializer = keras.initializers.RandomNormal(stddev=init_stddev)
        self.hidden_layers = []
        for i, n in enumerate(self.units):
            if kind == "dense":
                layer = keras.layers.Dense(n, activation="relu", kernel_initializer=initializer)
            else:
                layer = keras.layers.Conv1D(
                    n,
                    kernel_size,
                    padding=self.padding[i],
                    activation="relu",
                    kernel_initializer=initializer,
                )
            self.hidden_layers.append(layer)
            if i > 0:
                self.hidden_layers.append(keras.layers.Dropout(dropout))
                self.hidden_layers.append(keras.layers.BatchNormalization(momentum=batchnorm_momentum))
        n_films = sum(self.film_sizes)
        self.gamma_head = keras.layers.Dense(n_films, kernel_initializer=initializer, name="gamma")
        self.beta_head = keras.layers.Dense(n_films, kernel_initializer=initializer, name="beta")

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.kind == "cnn":
            shape = (shape[0], shape[1], 1)
        for layer in self.hidden_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        if self.kind == "cnn":
            shape = (shape[0], shape[1] * shape[2])
        self.gamma_head.build(shape)
        self.beta_head.build(shape)

    def _split(self, values):
        parts, start = [], 0
        for size in self.film_sizes:
            parts.append(values[:, start : start + size])
            start += size
        return parts

    def call(self, condition, training=None):
        x = condition
        if self.kind == "cnn":
            x = ops.expand_dims(x, -1)
        for layer in self.hidden_layers:
            x = layer(x, training=training)
        if self.kind == "cnn":
            x = ops.reshape(x, (-1, x.shape[1] * x.shape[2]))
        return self._split(self.gamma_head(x)), self._split(self.beta_head(x))

    def compute_output_shape(self, input_shape):
        shapes = [(input_shape[0], size) for size in self.film_sizes]
        return shapes, list(shapes)

    def get_config(self):
        config = super().get_config()
        config.update(
            film_sizes=self.film_sizes,
            units=self.units,
            kind=self.kind,
            kernel_size=self.kernel_size,
            padding=self.padding,
            dropout=self.dropout,
            batchnorm_momentum=self.batchnorm_momentum,
            init_stddev=self.init_stddev,
        )
        return config
